package main

import (
	"errors"
	"testing"
)

func TestEventIntakeFlagIsHTTPOrStreamWithoutACallbackURL(t *testing.T) {
	cases := []struct {
		cfg bindConfig
		ok  bool
	}{
		{bindConfig{}, true},
		{bindConfig{EventIntake: "http", CallbackURL: "https://ehr.example.com/dingtalk/callback/c"}, true},
		{bindConfig{EventIntake: "stream"}, true},
		{bindConfig{EventIntake: "stream", CallbackURL: "https://ehr.example.com/dingtalk/callback/c"}, false},
		{bindConfig{EventIntake: "websocket"}, false},
	}
	for _, c := range cases {
		err := validateEventIntake(c.cfg)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, errUsage)) {
			t.Errorf("%+v: error %v, want ok=%v (usage errors only)", c.cfg, err, c.ok)
		}
	}
}
