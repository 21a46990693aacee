package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/app/config"
	"github.com/hookline/hookline/app/secrets"
)

// env serves m, plus an operator key unless m names one: production
// refuses to start without HOOKLINE_SECRET_KEYS.
func env(m map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := m[k]; ok {
			return v
		}
		if k == "HOOKLINE_SECRET_KEYS" {
			return testKey
		}
		return ""
	}
}

var testKey = secrets.NewKey("test")

func TestSecretKeys(t *testing.T) {
	if _, err := config.Load(env(map[string]string{"HOOKLINE_SECRET_KEYS": ""})); err == nil || !strings.Contains(err.Error(), "HOOKLINE_SECRET_KEYS") {
		t.Fatalf("production without a key: %v, want an error naming HOOKLINE_SECRET_KEYS", err)
	}
	c, err := config.Load(env(map[string]string{"HOOKLINE_SECRET_KEYS": "", "HOOKLINE_MODE": "development"}))
	if err != nil || c.Secrets.Enabled() {
		t.Fatalf("development without a key: %v, enabled %v", err, c.Secrets.Enabled())
	}
	if _, err := config.Load(env(map[string]string{"HOOKLINE_SECRET_KEYS": "k1:tooshort"})); err == nil {
		t.Fatal("a short key was accepted")
	}
	c, err = config.Load(env(nil))
	if err != nil || !c.Secrets.Enabled() || c.Secrets.CurrentID() != "test" || strings.Contains(c.String(), testKey[5:]) {
		t.Fatalf("with a key: %v; config string %s must name the key id and not the key", err, c.String())
	}
}

func TestDefaults(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.RedisURL != "redis://127.0.0.1:6379/0" || c.Mode != config.Production ||
		c.BaseURL.String() != "http://localhost:8080" || c.MaxHops != 3 || c.EventMax != 10000 ||
		c.LoopWindow != 10*time.Minute || c.LoopThreshold != 3 || c.WorkerConcurrency != 50 {
		t.Fatalf("defaults: %+v", c)
	}
	if len(c.RetrySchedule) != 2 || c.RetrySchedule[0] != 5*time.Minute || c.RetrySchedule[1] != 10*time.Minute {
		t.Fatalf("retry schedule %v, want [5m 10m]", c.RetrySchedule)
	}
}

func TestAllBadValuesReported(t *testing.T) {
	_, err := config.Load(env(map[string]string{
		"HOOKLINE_ADDR":               "nope",
		"HOOKLINE_REDIS_URL":          "mysql://x",
		"HOOKLINE_MODE":               "staging",
		"HOOKLINE_BASE_URL":           "ftp://x",
		"HOOKLINE_RETRY_SCHEDULE":     "5m,soon",
		"HOOKLINE_ALLOW_TARGETS":      "10.0.0.0/8,banana",
		"HOOKLINE_MAX_HOPS":           "-1",
		"HOOKLINE_WORKER_CONCURRENCY": "1001",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"HOOKLINE_ADDR", "HOOKLINE_REDIS_URL", "HOOKLINE_MODE", "HOOKLINE_BASE_URL",
		"HOOKLINE_RETRY_SCHEDULE", "HOOKLINE_ALLOW_TARGETS", "HOOKLINE_MAX_HOPS", "HOOKLINE_WORKER_CONCURRENCY"} {
		if !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 8 {
		t.Errorf("%d lines, want one per bad value:\n%v", n, err)
	}
}

func TestRedisURLForms(t *testing.T) {
	for _, u := range []string{
		"redis://127.0.0.1:6379/0",
		"rediss://user:pw@redis.example.com:6380/1",
		"redis+sentinel://:pw@10.0.0.1:26379/0?master_name=mymaster&addr=10.0.0.2:26379",
		"redis+cluster://10.0.0.1:7000?addr=10.0.0.2:7000",
	} {
		if _, err := config.Load(env(map[string]string{"HOOKLINE_REDIS_URL": u})); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	if _, err := config.Load(env(map[string]string{"HOOKLINE_REDIS_URL": "redis+sentinel://10.0.0.1:26379/0"})); err == nil ||
		!strings.Contains(err.Error(), "master_name") {
		t.Errorf("sentinel without master_name: %v", err)
	}
}

func TestStringMasksPassword(t *testing.T) {
	c, err := config.Load(env(map[string]string{"HOOKLINE_REDIS_URL": "redis://user:hunter2@localhost:6379/0"}))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.String(); strings.Contains(s, "hunter2") || !strings.Contains(s, "user:*****@") {
		t.Fatalf("String() = %s", s)
	}
}

func TestRetryScheduleNone(t *testing.T) {
	c, err := config.Load(env(map[string]string{"HOOKLINE_RETRY_SCHEDULE": "none"}))
	if err != nil || c.RetrySchedule == nil || len(c.RetrySchedule) != 0 {
		t.Fatalf("none: %v %v, want an empty, non-nil schedule", c.RetrySchedule, err)
	}
}
