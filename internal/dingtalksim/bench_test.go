package dingtalksim

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkUserList measures one user/list call (a full page of a department) served by
// ServeHTTP against a 100k-employee org, limits off.
func BenchmarkUserList(b *testing.B) {
	s := New(Options{})
	if err := s.LoadOrg(GenerateOrg(testCorp, OrgSpec{Seed: 1, Employees: 100_000})); err != nil {
		b.Fatal(err)
	}
	if err := s.AddApp(App{CorpID: testCorp, AppKey: testKey, AppSecret: testSecret}); err != nil {
		b.Fatal(err)
	}
	tok, _ := s.auth.issue(testKey, testSecret, "", time.Now())
	truth := s.Truth(testCorp)
	dept := biggestDept(truth)
	body := `{"dept_id":` + strconv.FormatInt(dept, 10) + `,"cursor":0,"size":100}`
	target := APIUserList + "?access_token=" + tok.value
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, target, strings.NewReader(body)))
			if w.Code != http.StatusOK || !strings.HasPrefix(w.Body.String(), `{"errcode":0`) {
				b.Fatalf("HTTP %d %s", w.Code, w.Body.String())
			}
		}
	})
}
