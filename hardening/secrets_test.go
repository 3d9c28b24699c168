package hardening

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*PASSWORD*", "DB_PASSWORD", true},
		{"*PASSWORD*", "PASSWORD", true},
		{"*PASSWORD*", "PASSWORD_FILE", true},
		{"*PASSWORD*", "PASSWD", false},
		{"*TOKEN", "GITHUB_TOKEN", true},
		{"*TOKEN", "TOKENS", false},
		{"API_?EY", "API_KEY", true},
		{"API_?EY", "API_KEEY", false},
		{"*SECRET*", "MY/SECRET/X", true},
		{"", "", true},
		{"*", "", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"**", "x", true},
	} {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

const secretEnv = `{"process":{"env":["PATH=/bin","DB_PASSWORD=hunter2","github_token=ghp_s3cr3tvalue","EMPTY_SECRET=","NOVALUE_TOKEN","AWS_ACCESS_KEY_ID=AKIAEXAMPLEKEY","HOME=/root","API_KEY=a=b=c"]}}`

var secretValues = []string{"hunter2", "ghp_s3cr3tvalue", "AKIAEXAMPLEKEY", "a=b=c"}

func secretsPolicy(t *testing.T, action string) *Policy {
	t.Helper()
	p := Default()
	p.Secrets.Action = action
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSecrets(t *testing.T) {
	wantNames := []string{"DB_PASSWORD", "github_token", "AWS_ACCESS_KEY_ID", "API_KEY"}
	for _, action := range []string{"report", "refuse", "ignore"} {
		t.Run(action, func(t *testing.T) {
			doc, c, err := limRule(t, secretsPolicy(t, action), secretsControl, []byte(secretEnv))
			if doc.Changed() {
				t.Error("the spec was edited")
			}
			found := c.Reports
			switch action {
			case "refuse":
				var denied *DeniedError
				if !errors.As(err, &denied) || len(c.Reports) != 0 {
					t.Fatalf("err %v, reports %v", err, c.Reports)
				}
				found = c.Refusals
				for _, n := range wantNames {
					if !strings.Contains(err.Error(), n) {
						t.Errorf("refusal does not name %s: %v", n, err)
					}
				}
			case "ignore":
				if err != nil || len(c.Reports)+len(c.Refusals) != 0 {
					t.Errorf("ignore: err %v, %v %v", err, c.Reports, c.Refusals)
				}
				return
			default:
				if err != nil || len(c.Refusals) != 0 {
					t.Fatalf("err %v, refusals %v", err, c.Refusals)
				}
			}
			var names []string
			for _, f := range found {
				names = append(names, f.From)
				if f.Control != "secrets" || f.Field != "process.env" {
					t.Errorf("finding %+v", f)
				}
			}
			if !slices.Equal(names, wantNames) {
				t.Errorf("named %v, want %v", names, wantNames)
			}
			// No value anywhere: not in the findings, their JSON log
			// form, nor the error.
			b, _ := json.Marshal(found)
			text := string(b)
			if err != nil {
				text += err.Error()
			}
			for _, v := range secretValues {
				if strings.Contains(text, v) {
					t.Errorf("value %q leaked: %s", v, text)
				}
			}
		})
	}
}

// Through Harden, reports land in the result (which is what is logged),
// and on the golden configs nothing is found.
func TestSecretsHarden(t *testing.T) {
	doc := mustParse(t, golden(t, "podman-default.json"))
	proc := mustObject(t, doc, "process")
	env, _, _ := proc.Strings("env")
	var extra struct {
		Process struct{ Env []string } `json:"process"`
	}
	if err := json.Unmarshal([]byte(secretEnv), &extra); err != nil {
		t.Fatal(err)
	}
	if err := proc.SetStrings("env", append(env, extra.Process.Env...)); err != nil {
		t.Fatal(err)
	}
	_, res := harden(t, Default(), doc.Bytes())
	n := 0
	for _, ch := range res.Changes {
		if ch.Control == "secrets" {
			n++
		}
		for _, v := range secretValues {
			if strings.Contains(ch.String(), v) {
				t.Errorf("value leaked in %s", ch)
			}
		}
	}
	if n != 4 {
		t.Errorf("%d secrets reported: %v", n, res.Changes)
	}
	for _, name := range goldens {
		if doc, c, err := limRule(t, secretsPolicy(t, "refuse"), secretsControl, golden(t, name)); err != nil || doc.Changed() || len(c.Reports) != 0 {
			t.Errorf("%s: err %v, reports %v", name, err, c.Reports)
		}
	}
}

func TestSecretsPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		s    SecretsPolicy
		want string
	}{
		{SecretsPolicy{Action: "report", Patterns: []string{"*TOKEN*", ""}}, "secrets.patterns[1]"},
		{SecretsPolicy{Action: "report", Patterns: []string{"A=B"}}, "secrets.patterns[0]"},
		{SecretsPolicy{Action: "refuse"}, "secrets.patterns"},
		{SecretsPolicy{Action: "block"}, "secrets.action"},
	} {
		p := &Policy{Secrets: tc.s}
		if err := p.Compile(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.s, err, tc.want)
		}
	}
	if err := (&Policy{Secrets: SecretsPolicy{Action: "report", Patterns: []string{"*KEY*"}}}).Compile(); err != nil {
		t.Error(err)
	}
}
