// Package dingtalksim is a faithful stand-in for the DingTalk Open Platform server APIs,
// used by dingsync's tests, demo and benchmarks.
//
// One Server serves both API families on one host (legacy oapi paths such as
// /topapi/v2/user/list with ?access_token= and errcode bodies, and new /v1.0/... paths with
// the x-acs-dingtalk-access-token header and HTTP-status errors) for several corps at
// once, each with its org and its apps. It enforces the documented limits (20 QPS per app
// per API, the per-IP ban), issues and expires tokens, injects faults on demand, counts
// calls, and exposes an admin API under /_sim/ to generate orgs, mutate them (every
// mutation is recorded as a contact change event) and read the ground truth. Beyond the
// contact APIs it serves the OAuth user login, callback registration with encrypted event
// pushes and the failed-push list, Stream mode (the gateway and WebSocket event frames),
// per-app IP whitelists, the endpoint that probes the message permission, and attendance
// records and approval instances (generated, plus those added through the Go and admin APIs),
// and the smart-HR roster fields of every user.
package dingtalksim

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// API paths the simulator serves. They are the keys of Calls, Faults.APIs and the
// per-API QPS windows, as DingTalk counts its limits per request path.
const (
	APIGetToken            = "/gettoken"
	APIAccessToken         = "/v1.0/oauth2/accessToken"
	APIDepartmentListSub   = "/topapi/v2/department/listsub"
	APIDepartmentListSubID = "/topapi/v2/department/listsubid"
	APIDepartmentGet       = "/topapi/v2/department/get"
	APIDepartmentParents   = "/topapi/v2/department/listparentbydept"
	APIUserParents         = "/topapi/v2/department/listparentbyuser"
	APIUserList            = "/topapi/v2/user/list"
	APIUserGet             = "/topapi/v2/user/get"
	APIUserListID          = "/topapi/user/listid"
	APIUserListSimple      = "/topapi/user/listsimple"
	APIUserCount           = "/topapi/user/count"
	APIEmpLeaveRecords     = "/v1.0/contact/empLeaveRecords"
	APIUserByUnionID       = "/topapi/user/getbyunionid"
	// APIOAuthAuthorize is login.dingtalk.com's browser login page, served on the same host.
	APIOAuthAuthorize      = "/oauth2/auth"
	APIUserAccessToken     = "/v1.0/oauth2/userAccessToken"
	APIUsersMe             = "/v1.0/contact/users/me"
	APICallbackRegister    = "/call_back/register_call_back"
	APICallbackUpdate      = "/call_back/update_call_back"
	APICallbackGet         = "/call_back/get_call_back"
	APICallbackDelete      = "/call_back/delete_call_back"
	APICallbackFailed      = "/call_back/get_call_back_failed_result"
	APIMessageSendProgress = "/topapi/message/corpconversation/getsendprogress"
	APIAttendanceList      = "/attendance/list"
	APIApprovalInstanceIDs = "/v1.0/workflow/processes/instanceIds/query"
	APIApprovalInstance    = "/v1.0/workflow/processInstances"
	APIApprovalProcesses   = "/v1.0/workflow/processes/userVisibilities/templates"
)

const (
	adminPrefix             = "/_sim/"
	maxRequestBody          = 1 << 20
	newAPITokenHeader       = "x-acs-dingtalk-access-token"
	oapiTokenParam          = "access_token"
	defaultTokenTTL         = 7200 * time.Second
	defaultIPWindow         = 20 * time.Second
	defaultIPBan            = 5 * time.Minute
	defaultQPS              = 20
	defaultIPLimit          = 10_000
	faultHang               = 30 * time.Second
	requestIDAlphabet       = "0123456789abcdefghijklmnopqrstuvwxyz"
	newAPIRequestIDAlphabet = "0123456789ABCDEF"
)

// Options configure a Server. Start from DefaultOptions: in Limits, zero means unlimited.
type Options struct {
	// Limits are the initial rate limits (SetLimits changes them at runtime).
	Limits
	// TokenTTL is the lifetime of access tokens (0: DingTalk's 7200 s). Tests shorten it.
	TokenTTL time.Duration
	// Clock tells the time for tokens, limits and events (nil: time.Now). Tests pass a
	// fake clock to cross QPS windows and expire tokens without sleeping.
	Clock func() time.Time
	// Logger receives one line per admin change (nil: discard).
	Logger *slog.Logger
}

// DefaultOptions are DingTalk's documented values: 20 QPS per app per API, 10,000 calls
// per 20 s per source IP (then a 5-minute ban answered with a JSON punish page), tokens
// valid for 7200 s.
func DefaultOptions() Options {
	return Options{Limits: DefaultLimits(), TokenTTL: defaultTokenTTL}
}

// Server is the simulated DingTalk. It is an http.Handler serving both API families and
// the admin API; all its methods are safe for concurrent use.
type Server struct {
	clock  func() time.Time
	logger *slog.Logger
	routes map[string]*route
	admin  http.Handler

	mu    sync.RWMutex // guards corps and everything in them
	corps map[string]*corp

	mutMu sync.Mutex // serializes mutations, so events and hooks keep their order
	hooks []func(Event)

	auth      *authStore
	callbacks *callbackStore
	pusher    *pusher
	messages  *messageStore
	stream    *streamHub
	limits    *limiter
	faults    *faultInjector
	counters  *counters

	attendance *attendanceData // clock-ins added to the generated ones
	approvals  *approvalData   // approval processes and instances
	rosters    *rosterData     // roster fields set through SetRosterField
}

// New returns a Server with no corps and no apps.
func New(opts Options) *Server {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = defaultTokenTTL
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		clock:     opts.Clock,
		logger:    opts.Logger,
		routes:    routes(),
		corps:     map[string]*corp{},
		auth:      newAuthStore(opts.TokenTTL),
		callbacks: &callbackStore{m: map[string]callbackEntry{}},
		pusher:    newPusher(opts.Clock, opts.Logger),
		messages:  newMessageStore(),
		stream:    newStreamHub(opts.Clock, opts.Logger),
		limits:    newLimiter(opts.Limits),
		faults:    newFaultInjector(),
		counters:  newCounters(),

		attendance: newAttendanceData(),
		approvals:  newApprovalData(),
		rosters:    newRosterData(),
	}
	s.hooks = []func(Event){s.pushEvent, s.streamEvent}
	s.admin = s.adminHandler()
	return s
}

// LoadOrg installs org as the org of org.CorpID, replacing any previous one (the corp's
// apps, events and counters stay). It validates org and takes ownership of its slices.
func (s *Server) LoadOrg(org Org) error {
	c, err := newCorp(org, s.clock())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.corps[org.CorpID]; old != nil {
		c.events = old.events
	}
	s.corps[org.CorpID] = c
	return nil
}

// Truth is corpID's org as it is now: every department with its department/get fields,
// every user with every user/get field (sensitive ones included) and the leavers. It is
// what a client with all permissions can see, for tests to compare a store against. An
// unknown corp yields an Org with no departments.
func (s *Server) Truth(corpID string) Org {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.corps[corpID]
	if c == nil {
		return Org{CorpID: corpID}
	}
	return c.truth()
}

// ServeHTTP serves the DingTalk APIs and, under /_sim/, the admin API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, adminPrefix) {
		s.admin.ServeHTTP(w, r)
		return
	}
	if r.URL.Path == StreamConnectPath {
		s.serveStream(w, r)
		return
	}
	rt := s.routes[r.URL.Path]
	if rt == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	c := s.newCall(r, rt)
	rep := s.serve(c)
	s.counters.add(c.corpID, rt.path, rep.outcome)
	rep.write(w)
}

// serve runs one API call through the pipeline: IP ban, injected faults, authentication,
// QPS limit, permission, then the endpoint.
func (s *Server) serve(c *call) reply {
	c.corpID = s.auth.corpOf(c)
	if s.limits.banned(c.ip, c.now) {
		return s.limits.banPage()
	}
	f := s.faults.decide(c.corpID, c.route.path)
	if rep, failed := s.inject(c, f); failed {
		return rep
	}
	rep := s.dispatch(c)
	if f.malformed && rep.outcome == OutcomeOK && c.route.family != web {
		rep = malform(rep, f.kind)
	}
	return rep
}

func (s *Server) dispatch(c *call) reply {
	if c.route.auth == authNone {
		return c.route.handle(s, c)
	}
	if rep, ok := s.auth.authenticate(c); !ok {
		return rep
	}
	if s.faults.takeThrottle(c.corpID, c.route.path) || !s.limits.allowQPS(c.app.AppKey, c.route.path, c.now) {
		return c.throttled()
	}
	if c.route.perm != "" && !c.app.can(c.route.perm) {
		return c.noPermission()
	}
	return c.route.handle(s, c)
}

// call is one API request in flight.
type call struct {
	r      *http.Request
	route  *route
	now    time.Time
	reqID  string
	ip     string
	body   []byte
	corpID string    // best effort until authenticated: for counters and faults
	app    *appState // set by authenticate
	userID string    // set by authenticate for a user access token
}

func (s *Server) newCall(r *http.Request, rt *route) *call {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	alphabet, n := requestIDAlphabet, 13
	if rt.family == newAPI {
		alphabet, n = newAPIRequestIDAlphabet, 32
	}
	return &call{r: r, route: rt, now: s.clock(), reqID: randomString(alphabet, n), ip: ip, body: body}
}

// orgOf is the org of the authenticated app's corp; callers hold s.mu.
func (s *Server) orgOf(c *call) *corp {
	return s.corps[c.app.CorpID]
}

// family tells which DingTalk API family a path belongs to, which decides how errors look.
type family int

const (
	oapi   family = iota
	newAPI        // errors are HTTP statuses with a JSON code
	web           // browser pages: errors are HTML
)

// authKind is what a route takes as credentials.
type authKind int

const (
	authApp  authKind = iota // an app access token
	authUser                 // a user access token from the OAuth code exchange
	authNone                 // token and login endpoints: credentials in the request, no QPS limit
)

// route is one served API.
type route struct {
	path   string
	method string
	family family
	auth   authKind
	perm   string // permission the app needs ("": none)
	denied string // errmsg when the app lacks perm ("": the generic one)
	// appKey names the app an authNone call is for, to count and fault it per corp.
	appKey func(*call) string
	handle func(*Server, *call) reply
}

func routes() map[string]*route {
	list := []*route{
		{path: APIGetToken, method: http.MethodGet, auth: authNone, appKey: queryParam("appkey"), handle: (*Server).getToken},
		{path: APIAccessToken, method: http.MethodPost, family: newAPI, auth: authNone, appKey: bodyField(func(r accessTokenRequest) string { return r.AppKey }), handle: (*Server).accessToken},
		{path: APIOAuthAuthorize, method: http.MethodGet, family: web, auth: authNone, appKey: queryParam("client_id"), handle: (*Server).oauthAuthorize},
		{path: APIUserAccessToken, method: http.MethodPost, family: newAPI, auth: authNone, appKey: bodyField(func(r userTokenRequest) string { return r.ClientID }), handle: (*Server).userAccessToken},
		{path: APIUsersMe, method: http.MethodGet, family: newAPI, auth: authUser, handle: (*Server).usersMe},
		{path: APIDepartmentListSub, method: http.MethodPost, perm: PermDepartmentRead, handle: (*Server).departmentListSub},
		{path: APIDepartmentListSubID, method: http.MethodPost, perm: PermDepartmentRead, handle: (*Server).departmentListSubID},
		{path: APIDepartmentGet, method: http.MethodPost, perm: PermDepartmentRead, handle: (*Server).departmentGet},
		{path: APIDepartmentParents, method: http.MethodPost, perm: PermDepartmentRead, handle: (*Server).departmentParents},
		{path: APIUserParents, method: http.MethodPost, perm: PermDepartmentRead, handle: (*Server).userParents},
		{path: APIUserList, method: http.MethodPost, perm: PermUserRead, handle: (*Server).userList},
		{path: APIUserGet, method: http.MethodPost, perm: PermUserRead, handle: (*Server).userGet},
		{path: APIUserListID, method: http.MethodPost, perm: PermUserRead, handle: (*Server).userListID},
		{path: APIUserListSimple, method: http.MethodPost, perm: PermUserRead, handle: (*Server).userListSimple},
		{path: APIUserCount, method: http.MethodPost, perm: PermUserRead, handle: (*Server).userCount},
		{path: APIEmpLeaveRecords, method: http.MethodGet, family: newAPI, perm: PermUserRead, handle: (*Server).empLeaveRecords},
		{path: APIUserByUnionID, method: http.MethodPost, perm: PermUserRead, handle: (*Server).userByUnionID},
		{path: APIUserCreate, method: http.MethodPost, perm: PermUserWrite, handle: (*Server).userCreate},
		{path: APIUserUpdate, method: http.MethodPost, perm: PermUserWrite, handle: (*Server).userUpdate},
		{path: APIDepartmentCreate, method: http.MethodPost, perm: PermUserWrite, handle: (*Server).departmentCreate},
		{path: APIDepartmentUpdate, method: http.MethodPost, perm: PermUserWrite, handle: (*Server).departmentUpdate},
		{path: APICallbackRegister, method: http.MethodPost, handle: (*Server).registerCallback},
		{path: APICallbackUpdate, method: http.MethodPost, handle: (*Server).updateCallback},
		{path: APICallbackGet, method: http.MethodGet, handle: (*Server).getCallback},
		{path: APICallbackDelete, method: http.MethodPost, handle: (*Server).deleteCallback},
		{path: APICallbackFailed, method: http.MethodGet, handle: (*Server).getCallbackFailed},
		{path: APIMessageSendProgress, method: http.MethodPost, perm: PermMessageSend, denied: "no permission to send work notifications", handle: (*Server).sendProgress},
		{path: APIMessageAsyncSend, method: http.MethodPost, perm: PermMessageSend, denied: "no permission to send work notifications", handle: (*Server).asyncSend},
		{path: APIMessageSendResult, method: http.MethodPost, perm: PermMessageSend, denied: "no permission to send work notifications", handle: (*Server).sendResultOf},
		{path: APIAttendanceList, method: http.MethodPost, perm: PermAttendanceRead, handle: (*Server).attendanceList},
		{path: APIStreamOpen, method: http.MethodPost, family: newAPI, auth: authNone, appKey: bodyField(func(r streamOpenRequest) string { return r.ClientID }), handle: (*Server).openStreamConnection},
		{path: APIApprovalInstanceIDs, method: http.MethodPost, family: newAPI, perm: PermApprovalRead, handle: (*Server).approvalInstanceIDs},
		{path: APIApprovalInstance, method: http.MethodGet, family: newAPI, perm: PermApprovalRead, handle: (*Server).approvalInstance},
		{path: APIApprovalProcesses, method: http.MethodGet, family: newAPI, perm: PermApprovalRead, handle: (*Server).approvalProcesses},
		{path: APIRosterQuery, method: http.MethodPost, family: newAPI, perm: PermRosterRead, handle: (*Server).rosterQuery},
	}
	m := make(map[string]*route, len(list))
	for _, r := range list {
		m[r.path] = r
	}
	return m
}

// queryParam reads the app key of an authNone call from a query parameter.
func queryParam(name string) func(*call) string {
	return func(c *call) string { return c.r.URL.Query().Get(name) }
}

// bodyField reads the app key of an authNone call from its JSON body.
func bodyField[T any](field func(T) string) func(*call) string {
	return func(c *call) string {
		var req T
		_ = json.Unmarshal(c.body, &req)
		return field(req)
	}
}
