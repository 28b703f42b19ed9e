package deploy

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/dingsync/dingsync/internal/metricscheck"
	"github.com/dingsync/dingsync/workflows"
)

// TestPrometheusScrapesTheWorker checks deploy/prometheus/prometheus.yml against the compose
// file: its scrape target is the worker service on its DINGSYNC_METRICS_ADDR port, and its rule
// files are mounted from dashboards/. Then `promtool check config` runs on the files laid out
// as the container sees them, which also checks the rules it loads.
func TestPrometheusScrapesTheWorker(t *testing.T) {
	promtool := metricscheck.Tool(t, "promtool")
	c := readCompose(t)
	_, prom := serviceWithImage(t, c, "prom/prometheus:")
	files := mounts(prom)
	configPath := files["/etc/prometheus/prometheus.yml"]
	if configPath == "" {
		t.Fatal("the prometheus service does not mount a config at /etc/prometheus/prometheus.yml")
	}
	raw, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			StaticConfigs []struct{ Targets []string } `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	worker, ok := c.Services["worker"]
	if !ok {
		t.Fatal("docker-compose.yml has no worker service")
	}
	_, metricsPort, err := net.SplitHostPort(worker.Environment["DINGSYNC_METRICS_ADDR"])
	if err != nil {
		t.Fatalf("the worker's DINGSYNC_METRICS_ADDR: %v", err)
	}
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	if !slices.Contains(targets, "worker:"+metricsPort) {
		t.Errorf("prometheus scrapes %v, want worker:%s (the worker's DINGSYNC_METRICS_ADDR port)", targets, metricsPort)
	}
	for _, target := range targets {
		if host, _, _ := net.SplitHostPort(target); c.Services[host].Image == "" && c.Services[host].Build == nil {
			t.Errorf("prometheus scrapes %s, which is not a compose service", target)
		}
	}
	if len(cfg.RuleFiles) == 0 {
		t.Error("prometheus loads no alert rules")
	}
	for _, rf := range cfg.RuleFiles {
		if host := files[filepath.Join("/etc/prometheus", rf)]; filepath.Clean(host) != filepath.Join(root, "dashboards", "alerts.yml") {
			t.Errorf("rule file %s is mounted from %q, want dashboards/alerts.yml", rf, host)
		}
	}
	fs := t.TempDir() // the container's files, as far as Prometheus's config reaches
	for target, host := range files {
		raw, err := os.ReadFile(host)
		if err != nil {
			continue // a directory mount; the config reads none
		}
		if err := os.MkdirAll(filepath.Join(fs, filepath.Dir(target)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fs, target), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := metricscheck.Run("", "", promtool, "check", "config", filepath.Join(fs, "etc/prometheus/prometheus.yml")); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}

// TestGrafanaIsProvisioned checks the grafana service's provisioning: the datasource points at
// the prometheus service, its uid is the dashboards' default ds, and the dashboard provider's
// path is where dashboards/ is mounted.
func TestGrafanaIsProvisioned(t *testing.T) {
	c := readCompose(t)
	_, grafana := serviceWithImage(t, c, "grafana/grafana:")
	promName, _ := serviceWithImage(t, c, "prom/prometheus:")
	files := mounts(grafana)
	prov := files["/etc/grafana/provisioning"]
	if prov == "" {
		t.Fatal("the grafana service does not mount /etc/grafana/provisioning")
	}
	var ds struct {
		Datasources []struct{ Name, UID, Type, URL string }
	}
	yamlFile(t, filepath.Join(prov, "datasources", "prometheus.yml"), &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" {
		t.Fatalf("datasources = %+v, want one of type prometheus", ds.Datasources)
	}
	u, err := url.Parse(ds.Datasources[0].URL)
	if err != nil || u.Hostname() != promName || u.Port() != "9090" {
		t.Errorf("the datasource URL %q is not the %s service on 9090", ds.Datasources[0].URL, promName)
	}
	var providers struct {
		Providers []struct {
			Name, Type string
			Options    struct{ Path string }
		}
	}
	yamlFile(t, filepath.Join(prov, "dashboards", "dingsync.yml"), &providers)
	if len(providers.Providers) == 0 {
		t.Fatal("no dashboard provider")
	}
	for _, p := range providers.Providers {
		host := files[p.Options.Path]
		if filepath.Clean(host) != filepath.Join(root, "dashboards") {
			t.Errorf("dashboard provider %s reads %s, mounted from %q, want dashboards/", p.Name, p.Options.Path, host)
			continue
		}
		for _, f := range []string{"fleet.json", "corp.json"} {
			var d struct {
				Templating struct {
					List []struct {
						Name    string
						Current struct{ Value string }
					}
				}
			}
			if err := json.Unmarshal(readFile(t, filepath.Join("dashboards", f)), &d); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			i := slices.IndexFunc(d.Templating.List, func(v struct {
				Name    string
				Current struct{ Value string }
			}) bool {
				return v.Name == "ds"
			})
			if i < 0 || d.Templating.List[i].Current.Value != ds.Datasources[0].UID {
				t.Errorf("%s: the ds variable's default is not the provisioned datasource uid %q", f, ds.Datasources[0].UID)
			}
		}
	}
	if home := grafana.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" {
		dir, file := filepath.Split(home)
		if filepath.Clean(files[filepath.Clean(dir)]) != filepath.Join(root, "dashboards") || file != "fleet.json" {
			t.Errorf("the home dashboard %s is not dashboards/fleet.json as mounted", home)
		}
	}
}

// TestDingsyncServices checks the services built from the Dockerfile: their commands are
// binaries the Dockerfile builds, every dingsync variable they set is one the code reads, and
// the Temporal setup creates every search attribute the workflows use.
func TestDingsyncServices(t *testing.T) {
	c := readCompose(t)
	dockerfile := string(readFile(t, "Dockerfile"))
	for _, line := range strings.Split(dockerfile, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.EqualFold(f[0], "FROM") &&
			(!pinnedImage.MatchString(f[1]) || strings.HasSuffix(f[1], ":latest")) {
			t.Errorf("Dockerfile: %q is not pinned to a version", line)
		}
	}
	built := map[string]bool{}
	for _, m := range regexp.MustCompile(`-o /out/([a-z-]+) \./([a-z]+)`).FindAllStringSubmatch(dockerfile, -1) {
		if _, err := os.Stat(filepath.Join(root, m[2], "main.go")); err != nil {
			t.Errorf("Dockerfile builds ./%s: %v", m[2], err)
		}
		built[m[1]] = true
	}
	code := goSources(t)
	for name, s := range c.Services {
		if s.Build == nil {
			continue
		}
		if bin := firstWord(s.Entrypoint, s.Command); !built[bin] {
			t.Errorf("service %s runs %q, which the Dockerfile does not build (it builds %v)", name, bin, built)
		}
		for key := range s.Environment {
			if !strings.Contains(code, `"`+key+`"`) {
				t.Errorf("service %s sets %s, which no dingsync code reads", name, key)
			}
		}
	}
	setup := strings.Join(asStrings(c.Services["temporal-setup"].Command), " ")
	for _, attr := range []string{workflows.CorpIDAttribute.GetName(), workflows.SyncKindAttribute.GetName(),
		workflows.SearchAttributeBindingStatus.GetName()} {
		if !regexp.MustCompile(`\b` + attr + `\b`).MatchString(setup) {
			t.Errorf("temporal-setup does not create the search attribute %s", attr)
		}
	}
}

// goSources is the text of every non-test Go file of the repository.
func goSources(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin" || d.Name() == "tools") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			raw, err := os.ReadFile(path)
			b.Write(raw)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func firstWord(entrypoint, command any) string {
	if words := asStrings(entrypoint); len(words) > 0 {
		return words[0]
	}
	if words := asStrings(command); len(words) > 0 {
		return words[0]
	}
	return ""
}

func asStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, w := range v {
			s, _ := w.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func yamlFile(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
