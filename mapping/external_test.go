package mapping

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func yamlNode(t *testing.T, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

func TestTemplateSet(t *testing.T) {
	set := NewTemplateSet("up.yaml", map[string]string{"realm": "acme corp"}, "update", "reply", "param", "config")
	body := set.Node("body", yamlNode(t, `
firstName: ${update.set.givenName?|unset:""}
lastName: ${update.set.familyName?|unset:""}
email: ${update.set.email?|unset:""}
enabled: ${update.set.active?}
attributes: ${update.set.attributes?|listValues|unset:{}}
realm: ${config.realm}
`))
	user := set.Node("user", yamlNode(t, `
id: ${reply.id}
attributes: ${reply.attributes?|unlistValues}
createdAt: ${reply.createdTimestamp?|fromMillis}
`))
	path := set.Path("path", "/admin/realms/${config.realm}/users/${param.id|path}?q=${param.username|query}")
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	d := &TemplateData{Update: []byte(`{"set":{"givenName":"Jane","active":false,"attributes":{"a":"x","b":["y","z"],"c":3}},"unset":["email","familyName"]}`),
		Params: params{"id": "a/b", "username": "j&d"}}
	if got, want := string(body.Render(d)), `{"firstName":"Jane","lastName":"","email":"","enabled":false,"attributes":{"a":["x"],"b":["y","z"],"c":[3]},"realm":"acme corp"}`; got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	d = &TemplateData{Update: []byte(`{"unset":["attributes"]}`)}
	if got, want := string(body.Render(d)), `{"attributes":{},"realm":"acme corp"}`; got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	d = &TemplateData{Reply: []byte(`{"id":"42","attributes":{"a":["x"],"b":["y","z"]},"createdTimestamp":1705311000123}`)}
	if got, want := string(user.Render(d)), `{"id":"42","attributes":{"a":"x","b":["y","z"]},"createdAt":"2024-01-15T09:30:00.123Z"}`; got != want {
		t.Errorf("user\n got %s\nwant %s", got, want)
	}
	d = &TemplateData{Params: params{"id": "a/b", "username": "j&d"}}
	if got, want := path.Text(d), "/admin/realms/acme corp/users/a%2Fb?q=j%26d"; got != want {
		t.Errorf("path %q, want %q", got, want)
	}
}

func TestTemplateSetProblems(t *testing.T) {
	set := NewTemplateSet("up.yaml", nil, "update", "param")
	set.Path("a", "/users/${param.id}")
	set.Path("b", "users/${param.id|path}#x")
	set.Node("c", yamlNode(t, `{x: "${reply.id}", y: "${update.unset|unset:1}", z: "${user.id}"}`))
	set.Node("d", nil)
	err := set.Err()
	for _, want := range []string{"a: ${param.id} must end with |path or |query", `b: "users/${param.id|path}#x" must start with /`,
		"a path has no fragment", `unknown source "reply" (update, param)`, "unset:<JSON> applies to an update.set.<field>",
		`unknown source "user"`, "d: missing"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func TestDialectsCannotReadUpstreamSources(t *testing.T) {
	rules := strings.Replace(testRules, "who: ${user.id}", "who: ${update.set.x}", 1)
	rules = strings.Replace(rules, "name: ${user.username}", "name: ${user.username|listValues}", 1)
	_, err := Load("test.yaml", []byte(rules), Options{})
	if err == nil || !strings.Contains(err.Error(), `unknown source "update"`) || !strings.Contains(err.Error(), `unknown filter "listValues"`) {
		t.Fatalf("%v", err)
	}
}
