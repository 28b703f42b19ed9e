package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/dingsync/dingsync/internal/metricscheck"
)

// root is the repository root, where docker-compose.yml is.
const root = ".."

// compose is the part of docker-compose.yml the tests read.
type compose struct {
	Services map[string]service
	Secrets  map[string]struct{ File string }
	Volumes  map[string]any
}

type service struct {
	Image       string
	Build       any
	Command     any
	Entrypoint  any
	Environment map[string]string
	Healthcheck *struct {
		Test    []string
		Disable bool
	}
	DependsOn map[string]struct{ Condition string } `yaml:"depends_on"`
	Volumes   []string
	Profiles  []string
	Restart   string
	Secrets   []string
}

func readCompose(t *testing.T) compose {
	t.Helper()
	var c compose
	if err := yaml.Unmarshal(readFile(t, "docker-compose.yml"), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return c
}

// TestComposeConfig runs `docker-compose config -q` (it needs no Docker engine): the file is
// valid Compose, and refuses to run without DINGSYNC_SECRET_KEY.
func TestComposeConfig(t *testing.T) {
	dc := metricscheck.Tool(t, "docker-compose")
	run := func(key string) (string, error) {
		cmd := exec.Command(dc, "--project-directory", root, "-f", filepath.Join(root, "docker-compose.yml"), "config", "-q")
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "DINGSYNC_SECRET_KEY=") })
		if key != "" {
			cmd.Env = append(cmd.Env, "DINGSYNC_SECRET_KEY="+key)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("c2VjcmV0LWtleS1vZi0zMi1ieXRlcy1mb3ItdGVzdHMhIQ=="); err != nil {
		t.Errorf("docker-compose config -q: %v\n%s", err, out)
	}
	if out, err := run(""); err == nil || !strings.Contains(out, "DINGSYNC_SECRET_KEY") {
		t.Errorf("without DINGSYNC_SECRET_KEY, docker-compose config should fail naming it; got %v:\n%s", err, out)
	}
}

var pinnedImage = regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$`)

// TestComposeServices checks each service: a pinned image or a build; a health check unless it
// is a one-shot (restart "no") or an on-demand tool (a profile); depends_on with conditions
// that can be met; bind mounts and secrets that exist.
func TestComposeServices(t *testing.T) {
	c := readCompose(t)
	for name, s := range c.Services {
		switch {
		case s.Image == "" && s.Build == nil:
			t.Errorf("service %s has neither an image nor a build", name)
		case s.Image != "" && (!pinnedImage.MatchString(s.Image) || strings.HasSuffix(s.Image, ":latest")):
			t.Errorf("service %s: image %q is not pinned to a version", name, s.Image)
		}
		oneShot := s.Restart == "no" || len(s.Profiles) > 0
		if !oneShot && (s.Healthcheck == nil || s.Healthcheck.Disable || len(s.Healthcheck.Test) < 2) {
			t.Errorf("service %s runs for good but has no health check", name)
		}
		for dep, d := range s.DependsOn {
			target, ok := c.Services[dep]
			switch {
			case !ok:
				t.Errorf("service %s depends on %s, which does not exist", name, dep)
			case d.Condition == "service_healthy" && target.Healthcheck == nil:
				t.Errorf("service %s waits for %s to be healthy, which has no health check", name, dep)
			case d.Condition == "service_completed_successfully" && target.Restart != "no":
				t.Errorf("service %s waits for %s to complete, which is not a one-shot (restart: \"no\")", name, dep)
			case d.Condition == "":
				t.Errorf("service %s depends on %s without a condition", name, dep)
			}
		}
		for _, v := range s.Volumes {
			if src := strings.Split(v, ":")[0]; strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("service %s mounts %s, which does not exist", name, src)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s mounts volume %s, which is not declared", name, src)
			}
		}
		for _, sec := range s.Secrets {
			if c.Secrets[sec].File == "" {
				t.Errorf("service %s uses secret %s, which has no file", name, sec)
			}
		}
	}
	for name, sec := range c.Secrets {
		if _, err := os.Stat(filepath.Join(root, sec.File)); err != nil {
			t.Errorf("secret %s: %v", name, err)
		}
	}
}

// mounts maps a service's bind mounts' container paths to their host paths (from the root).
func mounts(s service) map[string]string {
	out := map[string]string{}
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && strings.HasPrefix(parts[0], ".") {
			out[parts[1]] = filepath.Join(root, parts[0])
		}
	}
	return out
}

func serviceWithImage(t *testing.T, c compose, prefix string) (string, service) {
	t.Helper()
	for name, s := range c.Services {
		if strings.HasPrefix(s.Image, prefix) {
			return name, s
		}
	}
	t.Fatalf("docker-compose.yml has no service with image %s…", prefix)
	return "", service{}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
