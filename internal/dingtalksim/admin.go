package dingtalksim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// adminHandler serves the admin API under /_sim/. It speaks JSON both ways; errors are
// {"error": "..."} with 400 (bad input), 404 (unknown corp, app, user, department) or
// 409 (conflict). Routes (corpId is a query parameter unless said otherwise):
//
//	GET    /_sim/healthz                    200 {"status":"ok"}
//	POST   /_sim/orgs                       body {"corpId", "spec": OrgSpec} generates an org, or
//	                                        {"corpId", "org": Org} loads one; 201 {"corpId","departments","users","leavers"}
//	POST   /_sim/apps                       body App (corpId, appKey, appSecret, agentId, permissions,
//	                                        deniedDepartments, allowedIps); 201 {"corpId","appKey"}
//	PUT    /_sim/apps/{appKey}/secret       body {"appSecret","graceMs","revokeTokens"}: resets the
//	                                        secret (the old one valid graceMs more; issued tokens
//	                                        revoked at once if revokeTokens); 204
//	PUT    /_sim/apps/{appKey}/whitelist    body {"allowedIps":[IP or CIDR...]} ([]: any IP); 204
//	PUT    /_sim/oauth/consent              body {"appKey","userId"}: who logs in to the app on
//	                                        /oauth2/auth ("" userId: nobody); 204
//	POST   /_sim/tokens/revoke              body {"appKey"}: revokes its tokens; 204
//	GET    /_sim/truth?corpId=              200 Org (the ground truth)
//	GET    /_sim/calls?corpId=              200 {"corpId","calls":{api:n},"outcomes":{api:{outcome:n}}}
//	POST   /_sim/calls/reset                zeroes all counters; 204
//	PUT    /_sim/faults                     body {"corpId" ("" = global), "seed", "errorRate", "timeoutRate",
//	                                        "latencyMs", "jitterMs", "malformedRate", "throttleBurst",
//	                                        "ipBanNow", "apis"}: replaces that scope's faults; 204
//	DELETE /_sim/faults                     clears all faults; 204
//	GET    /_sim/limits                     200 {"qps","ipLimit","ipWindowSeconds","ipBanSeconds","banPage"}
//	PUT    /_sim/limits                     body: any of those fields; 200 the limits now in force
//	DELETE /_sim/ipbans                     lifts every IP ban; 204
//	POST   /_sim/users?corpId=              body User: adds (user_add_org); 201 User
//	PATCH  /_sim/users/{userid}?corpId=     body: the User fields to change (user_modify_org or user_active_org); 200 User
//	DELETE /_sim/users/{userid}?corpId=     the user leaves (user_leave_org); 204
//	POST   /_sim/users/{userid}/move?corpId= body {"from","to"} department ids (user_modify_org); 200 User
//	POST   /_sim/departments?corpId=        body Department: creates (org_dept_create); 201 Department
//	PATCH  /_sim/departments/{deptId}?corpId= body: the fields to change: rename, reorder, move
//	                                        with parent_id (org_dept_modify); 200 Department
//	DELETE /_sim/departments/{deptId}?corpId= removes an empty department (org_dept_remove); 204
//	GET    /_sim/events?corpId=             200 {"events":[Event...]}
//	GET    /_sim/push                       200 {"paused","duplicateRate","delayMs","jitterMs","reorderWindow",
//	                                        "concurrency","dropToFailedList","timeoutMs","skipUrlCheck","seed"} (PushOptions)
//	PUT    /_sim/push                       body: any of those fields; 200 the push options now in force
//	GET    /_sim/pushes?corpId=             200 {"corpId","outcomes":{outcome:n},"queued","failed"} (PushStats)
//	GET    /_sim/messages?corpId=[&userId=], PUT /_sim/messages/limits: work notifications users
//	received, and the per-user daily cap (see messageAdmin)
//	GET    /_sim/stream, PUT /_sim/stream, GET /_sim/stream/{appKey}, POST /_sim/stream/{appKey}/disconnect
//	and /drop: Stream mode options, counters and connection control (see streamAdmin)
//	GET/POST /_sim/attendance, GET/POST /_sim/approvals, PATCH /_sim/approvals/{instanceId}:
//	clock-in records and approval instances (see hrDataAdmin)
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h func(*http.Request) (int, any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			status, body, err := h(r)
			if err != nil {
				status, body = errorStatus(err), map[string]string{"error": err.Error()}
			}
			if body == nil {
				w.WriteHeader(status)
				return
			}
			w.Header().Set("Content-Type", "application/json;charset=utf-8")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(body)
		})
	}
	handle("GET /_sim/healthz", func(*http.Request) (int, any, error) {
		return http.StatusOK, map[string]string{"status": "ok"}, nil
	})
	handle("POST /_sim/orgs", s.adminLoadOrg)
	handle("POST /_sim/apps", s.adminAddApp)
	handle("PUT /_sim/apps/{appKey}/secret", s.adminSetSecret)
	handle("PUT /_sim/apps/{appKey}/whitelist", s.adminSetWhitelist)
	handle("PUT /_sim/oauth/consent", s.adminSetConsent)
	handle("POST /_sim/tokens/revoke", s.adminRevoke)
	handle("GET /_sim/truth", s.adminTruth)
	handle("GET /_sim/calls", s.adminCalls)
	handle("POST /_sim/calls/reset", func(*http.Request) (int, any, error) {
		s.ResetCalls()
		return http.StatusNoContent, nil, nil
	})
	handle("PUT /_sim/faults", s.adminSetFaults)
	handle("DELETE /_sim/faults", func(*http.Request) (int, any, error) {
		s.ClearFaults()
		return http.StatusNoContent, nil, nil
	})
	handle("GET /_sim/limits", func(*http.Request) (int, any, error) {
		return http.StatusOK, limitsJSON(s.CurrentLimits()), nil
	})
	handle("PUT /_sim/limits", s.adminSetLimits)
	handle("DELETE /_sim/ipbans", func(*http.Request) (int, any, error) {
		s.LiftIPBans()
		return http.StatusNoContent, nil, nil
	})
	handle("POST /_sim/users", s.adminAddUser)
	handle("PATCH /_sim/users/{userid}", s.adminPatchUser)
	handle("DELETE /_sim/users/{userid}", s.adminRemoveUser)
	handle("POST /_sim/users/{userid}/move", s.adminMoveUser)
	handle("POST /_sim/departments", s.adminAddDepartment)
	handle("PATCH /_sim/departments/{deptId}", s.adminPatchDepartment)
	handle("DELETE /_sim/departments/{deptId}", s.adminRemoveDepartment)
	handle("GET /_sim/events", s.adminEvents)
	handle("GET /_sim/push", func(*http.Request) (int, any, error) {
		return http.StatusOK, pushJSON(s.CurrentPushOptions()), nil
	})
	handle("PUT /_sim/push", s.adminSetPush)
	handle("GET /_sim/pushes", s.adminPushStats)
	s.streamAdmin(handle)
	s.messageAdmin(handle)
	s.hrDataAdmin(handle)
	return mux
}

func errorStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// readJSON decodes the request body into v, refusing unknown fields.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %v", ErrInvalid, err)
	}
	return nil
}

// corpParam is the required corpId query parameter.
func corpParam(r *http.Request) (string, error) {
	id := r.URL.Query().Get("corpId")
	if id == "" {
		return "", fmt.Errorf("%w: corpId query parameter is required", ErrInvalid)
	}
	return id, nil
}

// maxGeneratedEmployees bounds POST /_sim/orgs.
const maxGeneratedEmployees = 1_000_000

func (s *Server) adminLoadOrg(r *http.Request) (int, any, error) {
	var req struct {
		CorpID string   `json:"corpId"`
		Spec   *OrgSpec `json:"spec"`
		Org    *Org     `json:"org"`
	}
	if err := readJSON(r, &req); err != nil {
		return 0, nil, err
	}
	var org Org
	switch {
	case req.CorpID == "":
		return 0, nil, fmt.Errorf("%w: corpId is required", ErrInvalid)
	case (req.Spec == nil) == (req.Org == nil):
		return 0, nil, fmt.Errorf("%w: give exactly one of spec and org", ErrInvalid)
	case req.Spec != nil && (req.Spec.Employees < 0 || req.Spec.Employees > maxGeneratedEmployees):
		return 0, nil, fmt.Errorf("%w: employees must be 0..%d", ErrInvalid, maxGeneratedEmployees)
	case req.Spec != nil:
		org = GenerateOrg(req.CorpID, *req.Spec)
	default:
		org = *req.Org
		org.CorpID = req.CorpID
	}
	counts := map[string]any{"corpId": req.CorpID, "departments": len(org.Departments), "users": len(org.Users), "leavers": len(org.Leavers)}
	if err := s.LoadOrg(org); err != nil {
		return 0, nil, err
	}
	s.logger.Info("org loaded", "corp", req.CorpID, "departments", counts["departments"], "users", counts["users"])
	return http.StatusCreated, counts, nil
}

func (s *Server) adminAddApp(r *http.Request) (int, any, error) {
	var app App
	if err := readJSON(r, &app); err != nil {
		return 0, nil, err
	}
	if err := s.AddApp(app); err != nil {
		return 0, nil, err
	}
	s.logger.Info("app registered", "app", app.String())
	return http.StatusCreated, map[string]string{"corpId": app.CorpID, "appKey": app.AppKey}, nil
}

func (s *Server) adminSetSecret(r *http.Request) (int, any, error) {
	var req struct {
		AppSecret    string `json:"appSecret"`
		GraceMs      int64  `json:"graceMs"`
		RevokeTokens bool   `json:"revokeTokens"`
	}
	if err := readJSON(r, &req); err != nil {
		return 0, nil, err
	}
	how := SecretRotation{Grace: time.Duration(req.GraceMs) * time.Millisecond, RevokeTokens: req.RevokeTokens}
	if err := s.RotateAppSecret(r.PathValue("appKey"), req.AppSecret, how); err != nil {
		return 0, nil, err
	}
	s.logger.Info("app secret changed", "appKey", r.PathValue("appKey"))
	return http.StatusNoContent, nil, nil
}

func (s *Server) adminRevoke(r *http.Request) (int, any, error) {
	var req struct {
		AppKey string `json:"appKey"`
	}
	if err := readJSON(r, &req); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, s.RevokeTokens(req.AppKey)
}

func (s *Server) adminTruth(r *http.Request) (int, any, error) {
	corpID, err := corpParam(r)
	if err != nil {
		return 0, nil, err
	}
	org := s.Truth(corpID)
	if org.Departments == nil {
		return 0, nil, fmt.Errorf("%w: corp %q has no org", ErrNotFound, corpID)
	}
	return http.StatusOK, org, nil
}

// adminCalls reports counters; without corpId it reports calls tied to no corp.
func (s *Server) adminCalls(r *http.Request) (int, any, error) {
	corpID := r.URL.Query().Get("corpId")
	return http.StatusOK, map[string]any{"corpId": corpID, "calls": s.Calls(corpID), "outcomes": s.CallOutcomes(corpID)}, nil
}

func (s *Server) adminSetFaults(r *http.Request) (int, any, error) {
	var req struct {
		CorpID        string   `json:"corpId"`
		Seed          int64    `json:"seed"`
		ErrorRate     float64  `json:"errorRate"`
		TimeoutRate   float64  `json:"timeoutRate"`
		LatencyMs     int64    `json:"latencyMs"`
		JitterMs      int64    `json:"jitterMs"`
		MalformedRate float64  `json:"malformedRate"`
		ThrottleBurst int      `json:"throttleBurst"`
		IPBanNow      bool     `json:"ipBanNow"`
		APIs          []string `json:"apis"`
	}
	if err := readJSON(r, &req); err != nil {
		return 0, nil, err
	}
	err := s.SetFaults(req.CorpID, Faults{
		Seed: req.Seed, ErrorRate: req.ErrorRate, TimeoutRate: req.TimeoutRate,
		Latency: time.Duration(req.LatencyMs) * time.Millisecond, Jitter: time.Duration(req.JitterMs) * time.Millisecond,
		MalformedRate: req.MalformedRate, ThrottleBurst: req.ThrottleBurst, IPBanNow: req.IPBanNow, APIs: req.APIs,
	})
	return http.StatusNoContent, nil, err
}

// limitsBody is Limits as JSON; on PUT, absent fields keep their value.
type limitsBody struct {
	QPS             *int     `json:"qps"`
	IPLimit         *int     `json:"ipLimit"`
	IPWindowSeconds *float64 `json:"ipWindowSeconds"`
	IPBanSeconds    *float64 `json:"ipBanSeconds"`
	BanPage         *BanPage `json:"banPage"`
}

func limitsJSON(l Limits) limitsBody {
	window, ban := l.IPWindow.Seconds(), l.IPBan.Seconds()
	return limitsBody{QPS: &l.QPS, IPLimit: &l.IPLimit, IPWindowSeconds: &window, IPBanSeconds: &ban, BanPage: &l.BanPage}
}

func (s *Server) adminSetLimits(r *http.Request) (int, any, error) {
	var req limitsBody
	if err := readJSON(r, &req); err != nil {
		return 0, nil, err
	}
	l := s.CurrentLimits()
	if req.QPS != nil {
		l.QPS = *req.QPS
	}
	if req.IPLimit != nil {
		l.IPLimit = *req.IPLimit
	}
	if req.IPWindowSeconds != nil {
		l.IPWindow = time.Duration(*req.IPWindowSeconds * float64(time.Second))
	}
	if req.IPBanSeconds != nil {
		l.IPBan = time.Duration(*req.IPBanSeconds * float64(time.Second))
	}
	if req.BanPage != nil {
		l.BanPage = *req.BanPage
	}
	if err := s.SetLimits(l); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, limitsJSON(s.CurrentLimits()), nil
}
