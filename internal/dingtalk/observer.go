package dingtalk

import "time"

// Observer is told about every HTTP request the client sends, so the metrics package can
// export DingTalk request counts, latency and throttles per API.
type Observer interface {
	// ObserveRequest reports one request of api that took d. outcome is OutcomeOK,
	// OutcomeCanceled or the Kind name of its error ("throttled", "transient", ...).
	ObserveRequest(api string, outcome string, d time.Duration)
}

// Outcomes of a request besides the Kind names.
const (
	// OutcomeOK is a successful request.
	OutcomeOK = "ok"
	// OutcomeCanceled is a request abandoned because the caller's context ended.
	OutcomeCanceled = "canceled"
)
