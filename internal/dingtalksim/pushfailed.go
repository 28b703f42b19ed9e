package dingtalksim

import "encoding/json"

// maxFailedPerCall is how many failed pushes get_call_back_failed_result returns at most.
const maxFailedPerCall = 200

// failedPush is a push that failed, as get_call_back_failed_result lists it: the plaintext
// JSON of the push under callbackData (a string), or, for an approval event, under
// bpmsCallBackData (an object).
type failedPush struct {
	Tag              string          `json:"call_back_tag"`
	EventTime        int64           `json:"event_time"`
	CallbackData     string          `json:"callbackData,omitempty"`
	BpmsCallBackData json.RawMessage `json:"bpmsCallBackData,omitempty"`
	CorpID           string          `json:"corpid"`
}

// newFailedPush files it as get_call_back_failed_result lists it.
func newFailedPush(it push) failedPush {
	f := failedPush{Tag: it.tag, EventTime: it.eventTime, CorpID: it.corpID}
	if it.tag == EventApprovalChange {
		f.BpmsCallBackData = json.RawMessage(it.payload)
	} else {
		f.CallbackData = string(it.payload)
	}
	return f
}

// failedBody is the get_call_back_failed_result response.
type failedBody struct {
	oapiStatus
	HasMore    bool         `json:"has_more"`
	FailedList []failedPush `json:"failed_list"`
}

// getCallbackFailed serves GET /call_back/get_call_back_failed_result: up to 200 of the
// corp's failed pushes, oldest first, removed as they are handed out.
func (s *Server) getCallbackFailed(c *call) reply {
	list, more := s.pusher.takeFailed(c.app.CorpID, maxFailedPerCall)
	return c.okFlat(failedBody{oapiStatus: c.oapiOK(), HasMore: more, FailedList: list})
}

// takeFailed removes and returns up to n of corpID's failed pushes, telling whether more
// are left.
func (p *pusher) takeFailed(corpID string, n int) ([]failedPush, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := p.failed[corpID]
	n = min(n, len(all))
	out := make([]failedPush, n)
	copy(out, all[:n])
	p.failed[corpID] = append([]failedPush(nil), all[n:]...) // let the handed-out ones go
	return out, len(all) > n
}
