package dingtalksim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Work notifications (dingtalk-api.md §8): asyncsend_v2 delivers a message to users and
// answers with a task id; getsendresult tells, per task, who got it. DingTalk's per-user
// limits are enforced the way DingTalk enforces them, silently: a message over a limit is
// accepted (errcode 0, a task id) but not delivered, and only getsendresult shows it, in
// forbidden_user_id_list and forbidden_list with code 143105 (the user's daily cap) or 143106
// (the same content again the same day).
const (
	APIMessageAsyncSend  = "/topapi/message/corpconversation/asyncsend_v2"
	APIMessageSendResult = "/topapi/message/corpconversation/getsendresult"
)

// Codes of forbidden_list entries, and DingTalk's limits on work notifications.
const (
	CodeMessageDailyLimit = 143105 // the user got the per-day maximum of messages from the app
	CodeMessageDuplicate  = 143106 // the user got the same content from the app today
	// CodeInvalidAgentID refuses an agent_id that is not the app's. UNCONFIRMED: DingTalk's
	// legacy list has 40056 "不合法的agentid"; the message pages do not name the code.
	CodeInvalidAgentID = 40056
	// DefaultMessagesPerUserDaily is how many messages one app may deliver to one user a day.
	DefaultMessagesPerUserDaily = 500
	maxMessageUsers             = 100
	maxMessageDepts             = 20
	maxMessageBytes             = 2048
)

// chinaTime is the zone DingTalk's "a day" is counted in (UTC+8, no daylight saving).
var chinaTime = time.FixedZone("CST", 8*3600)

// msgTypes are the msgtype values asyncsend_v2 accepts.
var msgTypes = []string{"text", "image", "voice", "file", "link", "oa", "markdown", "action_card"}

// Message is one work notification as a user received it.
type Message struct {
	TaskID  int64           `json:"taskId"`
	AgentID int64           `json:"agentId"`
	MsgType string          `json:"msgtype"`
	Msg     json.RawMessage `json:"msg"`
	// Content is text.content of a text message, markdown.text of a markdown one, else "".
	Content string    `json:"content"`
	At      time.Time `json:"at"`
	Read    bool      `json:"read"`
}

// messageStore holds every corp's work notifications: tasks, inboxes and the per-user
// counters of the current day.
type messageStore struct {
	mu           sync.Mutex
	perUserDaily int
	nextTask     int64
	tasks        map[int64]*messageTask
	inbox        map[string]map[string][]*Message // corp → userid → delivered messages
	days         map[string]map[string]*userDay   // corp → userid → today's deliveries
}

// messageTask is one asyncsend_v2 call's outcome.
type messageTask struct {
	corpID    string
	agentID   int64
	delivered []delivery
	result    sendResult
}

// delivery is one message a task delivered, and to whom.
type delivery struct {
	userID string
	msg    *Message
}

// userDay counts what one user got from the corp's apps on one (China) day.
type userDay struct {
	day      string
	count    int
	contents map[string]bool
}

func newMessageStore() *messageStore {
	return &messageStore{perUserDaily: DefaultMessagesPerUserDaily, nextTask: 700_000_001,
		tasks: map[int64]*messageTask{}, inbox: map[string]map[string][]*Message{}, days: map[string]map[string]*userDay{}}
}

// SetMessagesPerUserDaily changes how many messages a user may get a day (0: DingTalk's 500),
// so tests reach the cap without sending 500 messages.
func (s *Server) SetMessagesPerUserDaily(n int) {
	s.messages.mu.Lock()
	defer s.messages.mu.Unlock()
	if n <= 0 {
		n = DefaultMessagesPerUserDaily
	}
	s.messages.perUserDaily = n
}

// Messages returns the work notifications userID of corpID received, oldest first.
func (s *Server) Messages(corpID, userID string) []Message {
	m := s.messages
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Message
	for _, msg := range m.inbox[corpID][userID] {
		out = append(out, *msg)
	}
	return out
}

// AllMessages returns every corp user's received work notifications, by userid.
func (s *Server) AllMessages(corpID string) map[string][]Message {
	m := s.messages
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]Message{}
	for u, list := range m.inbox[corpID] {
		for _, msg := range list {
			out[u] = append(out[u], *msg)
		}
	}
	return out
}

// MarkMessagesRead marks everything userID of corpID received as read, as opening DingTalk
// does: getsendresult then lists them under read_user_id_list.
func (s *Server) MarkMessagesRead(corpID, userID string) {
	m := s.messages
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, msg := range m.inbox[corpID][userID] {
		msg.Read = true
	}
}

// asyncSendRequest is the asyncsend_v2 body.
type asyncSendRequest struct {
	AgentID   *int64          `json:"agent_id"`
	UserIDs   string          `json:"userid_list"`
	DeptIDs   string          `json:"dept_id_list"`
	ToAllUser bool            `json:"to_all_user"`
	Msg       json.RawMessage `json:"msg"`

	users   []string
	depts   []int64
	msgType string
	content string
}

func (r *asyncSendRequest) check() error {
	r.users = splitList(r.UserIDs)
	for _, d := range splitList(r.DeptIDs) {
		id, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return fmt.Errorf("dept_id_list: %q is not a department id", d)
		}
		r.depts = append(r.depts, id)
	}
	switch {
	case r.AgentID == nil || *r.AgentID <= 0:
		return errors.New("agent_id is required")
	case len(r.users) > maxMessageUsers:
		return fmt.Errorf("userid_list has %d userids, at most %d allowed", len(r.users), maxMessageUsers)
	case len(r.depts) > maxMessageDepts:
		return fmt.Errorf("dept_id_list has %d departments, at most %d allowed", len(r.depts), maxMessageDepts)
	case len(r.users) == 0 && len(r.depts) == 0 && !r.ToAllUser:
		return errors.New("userid_list, dept_id_list or to_all_user is required")
	case len(bytes.TrimSpace(r.Msg)) == 0:
		return errors.New("msg is required")
	case len(r.Msg) > maxMessageBytes:
		return fmt.Errorf("msg is %d bytes, at most %d allowed", len(r.Msg), maxMessageBytes)
	}
	return r.checkMsg()
}

// checkMsg validates msg's type and, for text and markdown, its content.
func (r *asyncSendRequest) checkMsg() error {
	var msg struct {
		MsgType  string                       `json:"msgtype"`
		Text     struct{ Content string }     `json:"text"`
		Markdown struct{ Title, Text string } `json:"markdown"`
	}
	if err := json.Unmarshal(r.Msg, &msg); err != nil {
		return fmt.Errorf("msg: %v", err)
	}
	r.msgType = msg.MsgType
	switch {
	case !slices.Contains(msgTypes, msg.MsgType):
		return fmt.Errorf("msg.msgtype %q is not one of %s", msg.MsgType, strings.Join(msgTypes, ", "))
	case msg.MsgType == "text" && msg.Text.Content == "":
		return errors.New("msg.text.content is required")
	case msg.MsgType == "markdown" && (msg.Markdown.Title == "" || msg.Markdown.Text == ""):
		return errors.New("msg.markdown.title and msg.markdown.text are required")
	}
	r.content = msg.Text.Content + msg.Markdown.Text
	return nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// asyncSendBody is the asyncsend_v2 response.
type asyncSendBody struct {
	oapiStatus
	TaskID int64 `json:"task_id"`
}

// asyncSend serves POST /topapi/message/corpconversation/asyncsend_v2: it delivers the
// message to every valid recipient within DingTalk's limits and records who got it.
func (s *Server) asyncSend(c *call) reply {
	req, rep, ok := parse(c, (*asyncSendRequest).check)
	if !ok {
		return rep
	}
	if c.app.AgentID != 0 && *req.AgentID != c.app.AgentID {
		return c.fail(CodeInvalidAgentID, "不合法的agentid", OutcomeInvalid)
	}
	task := &messageTask{corpID: c.app.CorpID, agentID: *req.AgentID, result: newSendResult()}
	recipients := s.messageRecipients(c, req, &task.result)
	content := string(compactJSON(req.Msg))
	m := s.messages
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.nextTask
	m.nextTask++
	for _, u := range recipients {
		m.deliver(task, id, u, req, content, c.now)
	}
	m.tasks[id] = task
	return c.okFlat(asyncSendBody{oapiStatus: c.oapiOK(), TaskID: id})
}

// messageRecipients resolves the request's users, departments (with their subtrees) and
// to_all_user to distinct active userids; unknown or departed ones go to the result's
// invalid lists.
func (s *Server) messageRecipients(c *call, req asyncSendRequest, res *sendResult) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	org := s.orgOf(c)
	seen := map[string]bool{}
	var out []string
	add := func(u *user) {
		if !seen[u.UserID] {
			seen[u.UserID] = true
			out = append(out, u.UserID)
		}
	}
	for _, id := range req.users {
		if u := org.users[id]; u != nil {
			add(u)
		} else if !slices.Contains(res.InvalidUsers, id) {
			res.InvalidUsers = append(res.InvalidUsers, id)
		}
	}
	for _, id := range req.depts {
		d := org.depts[id]
		if d == nil {
			res.InvalidDepts = append(res.InvalidDepts, id)
			continue
		}
		for _, u := range org.subtreeUsers(d) {
			add(u)
		}
	}
	if req.ToAllUser {
		for _, u := range org.subtreeUsers(org.depts[RootDepartmentID]) {
			add(u)
		}
	}
	return out
}

// deliver hands the message to userID unless a daily limit forbids it; m.mu is held.
func (m *messageStore) deliver(task *messageTask, id int64, userID string, req asyncSendRequest, content string, now time.Time) {
	days := m.days[task.corpID]
	if days == nil {
		days = map[string]*userDay{}
		m.days[task.corpID] = days
	}
	today := now.In(chinaTime).Format(time.DateOnly)
	d := days[userID]
	if d == nil || d.day != today {
		d = &userDay{day: today, contents: map[string]bool{}}
		days[userID] = d
	}
	switch {
	case d.contents[content]:
		task.result.forbid(userID, CodeMessageDuplicate, 1)
		return
	case d.count >= m.perUserDaily:
		task.result.forbid(userID, CodeMessageDailyLimit, d.count)
		return
	}
	d.count++
	d.contents[content] = true
	msg := &Message{TaskID: id, AgentID: task.agentID, MsgType: req.msgType, Msg: json.RawMessage(content),
		Content: req.content, At: now}
	if m.inbox[task.corpID] == nil {
		m.inbox[task.corpID] = map[string][]*Message{}
	}
	m.inbox[task.corpID][userID] = append(m.inbox[task.corpID][userID], msg)
	task.delivered = append(task.delivered, delivery{userID, msg})
}

// compactJSON is raw without insignificant whitespace, so equal messages compare equal.
func compactJSON(raw json.RawMessage) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return raw
	}
	return buf.Bytes()
}
