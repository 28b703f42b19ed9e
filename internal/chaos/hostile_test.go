package chaos

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/callback"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/testenv"
)

// hostilePush is one request to the receiver, and the statuses it may get.
type hostilePush struct {
	name   string
	method string
	path   string // after the receiver's prefix; default the corp
	query  url.Values
	header http.Header
	body   []byte
	mayCut bool // the server may cut the connection instead of answering (oversized requests)
}

// TestChaosHostileCallbacks throws the fuzz corpora of internal/callback and hand-made
// garbage at the worker's receiver: forged and mangled signatures, fuzzed ciphertexts
// (also correctly signed, to reach the decryption), fuzzed event plaintexts correctly
// encrypted and signed, wrong methods, huge and nested bodies, hostile paths and queries.
// Nothing may crash the worker or answer 5xx, only events that parse may be stored, and
// afterwards events still flow and the store equals DingTalk.
func TestChaosHostileCallbacks(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 731, Employees: 50})
	h.startWorker()
	h.bindWithEvents(h.callbackURL())
	reg, ok := h.sim.Callback(h.corpID)
	if !ok {
		t.Fatal("no callback registered")
	}
	c, err := callback.NewCrypter(reg.Token, reg.AESKey, h.corpID)
	if err != nil {
		t.Fatal(err)
	}
	before := h.count(`SELECT count(*) FROM inbox_events`)
	pushes, parseable := hostilePushes(t, c, h.corpID)
	for _, p := range pushes {
		status := h.send(p)
		if status >= 500 || (status == 0 && !p.mayCut) {
			t.Errorf("%s: status %d, want a 2xx or 4xx answer", p.name, status)
		}
	}
	sc.fault("hostile pushes", len(pushes))
	h.assertWorkerAlive()
	if n := h.count(`SELECT count(*) FROM inbox_events`) - before; n != parseable {
		t.Errorf("%d events stored from %d hostile pushes, want the %d whose event parses", n, len(pushes), parseable)
	}
	u := h.sim.Truth(h.corpID).Users[3]
	u.Title = "敌意之后"
	if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
		t.Fatal(err)
	}
	h.assertConverged(time.Minute)
}

// hostilePushes builds the pushes of TestChaosHostileCallbacks and counts those carrying an
// event that parses (correctly signed and encrypted, so they are stored).
func hostilePushes(t *testing.T, c *callback.Crypter, corpID string) (pushes []hostilePush, parseable int) {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	q := func(sig, ts, nonce string) url.Values {
		return url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {nonce}}
	}
	body := func(enc string) []byte { return fmt.Appendf(nil, `{"encrypt":%q}`, enc) }
	for _, f := range corpus(t, "FuzzDecrypt") {
		sig, nonce, enc := f.args[0].(string), f.args[2].(string), f.args[3].(string)
		pushes = append(pushes,
			hostilePush{name: "fuzzed push " + f.name, query: q(sig, now, nonce), body: body(enc)},
			hostilePush{name: "fuzzed ciphertext, signed, " + f.name, query: q(c.Signature(now, nonce, enc), now, nonce), body: body(enc)})
	}
	seen := map[string]bool{}
	for i, f := range corpus(t, "FuzzParseEvent") {
		plain := f.args[0].([]byte)
		enc, sig, err := c.Encrypt(plain, now, "n"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := callback.ParseEvent(plain); err == nil && ev.Type != "check_url" && !seen[ev.ID] { // check_url is answered, not stored
			seen[ev.ID] = true
			parseable++
		}
		pushes = append(pushes, hostilePush{name: "fuzzed event " + f.name, query: q(sig, now, "n"+strconv.Itoa(i)), body: body(enc)})
	}
	// Signed and encrypted correctly, but no event DingTalk sends, and not storable: they must
	// be refused as malformed (4xx), not answered 503 (which asks DingTalk to push them again).
	for i, ev := range map[string]string{
		"signed event with NUL in its ids": `{"EventType":"user_modify_org","UserId":["nul\u0000user"],"eventId":"nul\u0000id"}`,
		"signed event with a 9000-byte id": `{"EventType":"user_modify_org","UserId":["u"],"eventId":"` + randomHex(4500) + `"}`,
	} {
		enc, sig, err := c.Encrypt([]byte(ev), now, "u"+strconv.Itoa(len(ev)))
		if err != nil {
			t.Fatal(err)
		}
		pushes = append(pushes, hostilePush{name: i, query: q(sig, now, "u"+strconv.Itoa(len(ev))), body: body(enc)})
	}
	enc, sig, _ := c.Encrypt([]byte(`{"EventType":"user_modify_org","UserId":["x"],"eventId":"stale"}`), "1700000000000", "n")
	nested := strings.Repeat("[", 50_000) + strings.Repeat("]", 50_000)
	pushes = append(pushes,
		hostilePush{name: "GET", method: http.MethodGet, query: q("a", now, "n")},
		hostilePush{name: "PUT", method: http.MethodPut, query: q("a", now, "n"), body: body("x")},
		hostilePush{name: "no query", body: body("x")},
		hostilePush{name: "stale replay", query: q(sig, "1700000000000", "n"), body: body(enc)},
		hostilePush{name: "timestamp not a number", query: q("a", "soon", "n"), body: body("x")},
		hostilePush{name: "timestamp overflow", query: q("a", strings.Repeat("9", 40), "n"), body: body("x")},
		hostilePush{name: "1 MiB body", query: q("a", now, "n"), body: bytes.Repeat([]byte("x"), 1<<20), mayCut: true},
		hostilePush{name: "nested JSON", query: q("a", now, "n"), body: []byte(nested[:60_000])},
		hostilePush{name: "encrypt not a string", query: q("a", now, "n"), body: []byte(`{"encrypt":12345}`)},
		hostilePush{name: "invalid UTF-8 body", query: q("a", now, "n"), body: []byte("{\"encrypt\":\"\xff\xfe\"}")},
		hostilePush{name: "huge encrypt", query: q("a", now, "n"), body: body(strings.Repeat("A", 60_000))},
		hostilePush{name: "huge signature", query: q(strings.Repeat("f", 8000), now, "n"), body: body("x")},
		hostilePush{name: "many query params", query: manyParams(now), body: body("x")},
		hostilePush{name: "header bomb", query: q("a", now, "n"), header: http.Header{"X-Bomb": {strings.Repeat("b", 2<<20)}}, body: body("x"), mayCut: true},
		hostilePush{name: "unknown corp", path: "dingnobody", query: q(sig, now, "n"), body: body(enc)},
		hostilePush{name: "corp path traversal", path: "../../oauth/callback", query: q(sig, now, "n"), body: body(enc)},
		hostilePush{name: "corp path SQL", path: url.PathEscape("x' OR '1'='1"), query: q(sig, now, "n"), body: body(enc)},
		hostilePush{name: "corp path invalid UTF-8", path: "%ff%fe", query: q(sig, now, "n"), body: body(enc)},
		hostilePush{name: "corp path NUL", path: "ding%00corp", query: q(sig, now, "n"), body: body(enc)},
		hostilePush{name: "corp path 10 KB", path: strings.Repeat("d", 10_000), query: q(sig, now, "n"), body: body(enc)},
	)
	for i := range pushes {
		if pushes[i].path == "" {
			pushes[i].path = corpID
		}
	}
	return pushes, parseable
}

func manyParams(now string) url.Values {
	v := url.Values{"msg_signature": {"a"}, "timestamp": {now}, "nonce": {"n"}}
	for i := 0; i < 5000; i++ {
		v.Add("p"+strconv.Itoa(i), "v")
	}
	return v
}

// send makes one hostile request and returns its status (0 if the connection failed).
func (h *harness) send(p hostilePush) int {
	method := p.method
	if method == "" {
		method = http.MethodPost
	}
	u := "http://" + h.httpAddr + "/dingtalk/callback/" + p.path + "?" + p.query.Encode()
	req, err := http.NewRequest(method, u, bytes.NewReader(p.body))
	if err != nil {
		h.t.Fatalf("%s: %v", p.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range p.header {
		req.Header[k] = v
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Logf("%s: %v", p.name, err)
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// corpusFile is one entry of a fuzz corpus kept in the repo.
type corpusFile struct {
	name string
	args []any
}

// corpus reads internal/callback's corpus of a fuzz target (go test fuzz v1: string and
// []byte arguments).
func corpus(t *testing.T, target string) []corpusFile {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join(root, "internal", "callback", "testdata", "fuzz", target, "*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus for %s: %v", target, err)
	}
	var out []corpusFile
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f := corpusFile{name: filepath.Base(p)}
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n")[1:] {
			typ, quoted, ok := strings.Cut(line, "(")
			s, err := strconv.Unquote(strings.TrimSuffix(quoted, ")"))
			if !ok || err != nil || (typ != "string" && typ != "[]byte") {
				t.Fatalf("%s: cannot read corpus line %q", p, line)
			}
			if typ == "string" {
				f.args = append(f.args, s)
			} else {
				f.args = append(f.args, []byte(s))
			}
		}
		out = append(out, f)
	}
	return out
}
