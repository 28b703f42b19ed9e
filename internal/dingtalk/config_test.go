package dingtalk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("DINGTALK_OAPI_BASE_URL", "http://127.0.0.1:8081")
	t.Setenv("DINGTALK_API_BASE_URL", "http://127.0.0.1:8082/")
	t.Setenv("DINGTALK_LOGIN_BASE_URL", "http://127.0.0.1:8083/")
	t.Setenv("DINGTALK_QPS", "60")
	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8081", cfg.OAPIBaseURL)
	assert.Equal(t, 60.0, cfg.QPS)
	assert.Equal(t, DefaultIPCallsPer20s, cfg.IPCallsPer20s)
	assert.Equal(t, DefaultSafetyFactor, cfg.SafetyFactor)

	c := New(cfg)
	assert.Equal(t, "http://127.0.0.1:8082", c.cfg.APIBaseURL, "trailing slash trimmed")
	assert.Equal(t, "http://127.0.0.1:8083", c.cfg.LoginBaseURL, "trailing slash trimmed")
	assert.NotNil(t, c.cfg.Limiter)
}

func TestConfigFromEnvRejectsBadValues(t *testing.T) {
	for _, tt := range []struct{ name, value string }{
		{"DINGTALK_QPS", "fast"},
		{"DINGTALK_QPS", "0"},
		{"DINGTALK_QPS", "-3"},
		{"DINGTALK_OAPI_BASE_URL", "oapi.dingtalk.com"},
		{"DINGTALK_API_BASE_URL", "ftp://x"},
		{"DINGTALK_LOGIN_BASE_URL", "login.dingtalk.com"},
	} {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.name, tt.value)
			_, err := ConfigFromEnv()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.name)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := New(Config{SafetyFactor: 3})
	assert.Equal(t, DefaultOAPIBaseURL, c.cfg.OAPIBaseURL)
	assert.Equal(t, DefaultAPIBaseURL, c.cfg.APIBaseURL)
	assert.Equal(t, DefaultLoginBaseURL, c.cfg.LoginBaseURL)
	assert.Equal(t, float64(DefaultQPS), c.cfg.QPS)
	assert.Equal(t, DefaultSafetyFactor, c.cfg.SafetyFactor)
	assert.Equal(t, DefaultRequestTimeout, c.cfg.RequestTimeout)
	assert.Equal(t, DefaultMaxAttempts, c.cfg.MaxAttempts)
	assert.Zero(t, c.cfg.IPCallsPer20s, "0 disables the IP budget")
	l, ok := c.cfg.Limiter.(*LocalLimiter)
	require.True(t, ok)
	assert.InDelta(t, 19.0, float64(l.perAPI), 1e-9)
	assert.Nil(t, l.ip)
}
