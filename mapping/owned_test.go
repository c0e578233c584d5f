package mapping

import (
	"testing"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// ownedRules names the user in the body and keeps the password for the
// stored-user check: the values a Result keeps that come from the body.
const ownedRules = `
dialect: owned
description: a dialect for the ownership tests
route: {method: post, path: /t/:tenant/users}
request:
  target: {from: body.userName, by: username}
  tenant: param.tenant
  unknownFields: reject
  fields:
    - {source: login, type: string, target: username}
    - {source: pw, type: string, target: password, validate: {password: {notContainUsername: true, usernameField: login}}}
    - {source: first, type: string, target: givenName}
response:
  status: 200
  headers: {Location: "/users/${user.username|query}", X-Name: "${user.givenName}", X-Login: "${body.userName|query}"}
  body: {name: "${user.username}", first: "${user.givenName}", tags: "${user.attributes}", login: "${body.userName}", hi: "hi ${body.first}"}
errors:
  body: {msg: "${error.message}", field: "${error.field?}"}
`

func ownedProgram(t *testing.T) *Program { return mustLoad(t, "owned.yaml", ownedRules) }

// overwrite reuses buf as a pooled buffer would: every byte changes.
func overwrite(buf []byte) {
	for i := range buf {
		buf[i] = 'X'
	}
}

func noStoredUser() ([]byte, *canonical.Error) { return nil, nil }

// TestResultOwnsItsBytes reuses the request body after Translate: the
// Result (the user it names, the update, the password kept for the
// stored-user check) and a refusal (the field it names) are unchanged.
func TestResultOwnsItsBytes(t *testing.T) {
	p := ownedProgram(t)
	body := []byte(`{"userName":"jane.doe","pw":"Secret.Jane1!","first":"Jane"}`)
	res, e := p.Translate(&Input{Body: body, Params: params{"tenant": "acme"}})
	if e != nil {
		t.Fatal(e)
	}
	overwrite(body)
	if res.Value != "jane.doe" || res.Tenant != "acme" || res.Target != canonical.ByUsername {
		t.Errorf("target = %s %q tenant %q", res.Target, res.Value, res.Tenant)
	}
	if want := `{"set":{"password":"Secret.Jane1!","givenName":"Jane"},"unset":[]}`; string(res.Redacted()) == want {
		t.Errorf("not redacted: %s", res.Redacted())
	}
	// The stored user's name is in the password: the check must still see
	// the password the request sent.
	stored := func() ([]byte, *canonical.Error) { return []byte(`{"username":"jane"}`), nil }
	if _, e := res.Update(stored); e == nil || e.Field != "pw" {
		t.Errorf("stored-user check after the body was reused: %v", e)
	}
	other := func() ([]byte, *canonical.Error) { return []byte(`{"username":"bob"}`), nil }
	upd, e := res.Update(other)
	if want := `{"set":{"password":"Secret.Jane1!","givenName":"Jane"},"unset":[]}`; e != nil || string(upd) != want {
		t.Errorf("update = %s, %v; want %s", upd, e, want)
	}

	body = []byte(`{"userName":"jane.doe","zz":1}`)
	_, e = p.Translate(&Input{Body: body, Params: params{"tenant": "acme"}})
	if e == nil {
		t.Fatal("an unknown field was accepted")
	}
	overwrite(body)
	if e.Field != "zz" || e.Message != "zz is not a field of this API" {
		t.Errorf("refusal after the body was reused: field %q, message %q", e.Field, e.Message)
	}
}

// TestStoredUserNotKept reuses the stored user's buffer after the check.
func TestStoredUserNotKept(t *testing.T) {
	p := ownedProgram(t)
	res, e := p.Translate(&Input{Body: []byte(`{"userName":"jane.doe","pw":"Secret.Jane1!"}`), Params: params{"tenant": "acme"}})
	if e != nil {
		t.Fatal(e)
	}
	user := []byte(`{"username":"jane"}`)
	_, e = res.Update(func() ([]byte, *canonical.Error) { return user, nil })
	overwrite(user)
	if e == nil || e.Field != "pw" || e.Message != "pw must not contain the username" {
		t.Errorf("refusal after the stored user was reused: %v", e)
	}
}

// TestReplyOwnsItsBytes reuses the user given to RenderSuccess and renders
// again (a render writes into buffers of its own): the first Reply, its
// headers and body, is unchanged.
func TestReplyOwnsItsBytes(t *testing.T) {
	p := ownedProgram(t)
	in := &Input{Body: []byte(`{"userName":"jane.doe","first":"Jane"}`), Params: params{"tenant": "acme"}}
	res, e := p.Translate(in)
	if e != nil {
		t.Fatal(e)
	}
	user := []byte(`{"username":"jane.doe","givenName":"Jane","attributes":{"a":"b"}}`)
	rep := p.RenderSuccess(in, res, user)
	wantBody := string(rep.Body)
	wantHeaders := append([]Header(nil), rep.Headers...)
	for i := range wantHeaders { // deep copies, compared after the reuse
		wantHeaders[i].Name = string([]byte(wantHeaders[i].Name))
		wantHeaders[i].Value = string([]byte(wantHeaders[i].Value))
	}
	if wantBody != `{"name":"jane.doe","first":"Jane","tags":{"a":"b"},"login":"jane.doe","hi":"hi Jane"}` || len(wantHeaders) != 3 {
		t.Fatalf("reply: %v %s", rep.Headers, rep.Body)
	}
	overwrite(user)
	overwrite(in.Body)
	p.RenderSuccess(in, res, []byte(`{"username":"bob.other","givenName":"Bobby","attributes":{"c":"d"}}`))
	if string(rep.Body) != wantBody {
		t.Errorf("body after reuse: %s, want %s", rep.Body, wantBody)
	}
	for i, h := range rep.Headers {
		if h != wantHeaders[i] {
			t.Errorf("header after reuse: %v, want %v", h, wantHeaders[i])
		}
	}
	// An error reply names a field of the body: reusing the body leaves it.
	body := []byte(`{"userName":"jane.doe","zz":1}`)
	in = &Input{Body: body, Params: params{"tenant": "acme"}}
	_, e = p.Translate(in)
	if e == nil {
		t.Fatal("an unknown field was accepted")
	}
	erep := p.RenderError(in, e)
	want := string(erep.Body)
	overwrite(body)
	if string(erep.Body) != want || want != `{"msg":"zz is not a field of this API","field":"zz"}` {
		t.Errorf("error body after reuse: %s, want %s", erep.Body, want)
	}
}
