package mapping

import (
	"testing"
)

var firstOfSeeds = []string{
	``, `null`, `[]`, ` [ ] `, `{}`, `"ROLE_ADMIN"`, `[{"name":"ROLE_ADMIN"}]`,
	// Text after the array (never from lookup, but gjson reads on).
	`[],{"name":"ROLE_ADMIN"}`, `[] {"name":"ROLE_ADMIN"}`, `[{"name":"x"}],{"name":"ROLE_ADMIN"}`, `[]["" {`, `[] `,
	`[{"id":"r","name":"ROLE_X"},{"name":"ROLE_MERCHANT"}]`, `[1,"ROLE_ADMIN",null,{"name":1},{"name":"ROLE_ADMIN"}]`,
	`[{"name":"ROLE_MERCHANT","name":"ROLE_ADMIN"}]`, `[{"name":1,"name":"ROLE_ADMIN"},{"name":"ROLE_PARTNER"}]`,
	`[{"n\u0061me":"ROLE_ADMIN"},{"name":"ROLE_PARTNER"}]`, `[{"name":"ROLE_\u0041DMIN"}]`,
	`{"a":{"name":"ROLE_ADMIN"}}`, `[[{"name":"ROLE_ADMIN"}],{"x":{"name":"ROLE_ADMIN"}}]`,
	`[{"name":"ROLE_ADMIN"}`, `[{"name":"ROLE_ADMIN"},]`, `[{"name" "ROLE_ADMIN"}]`, `[{"name":"ROLE_ADMIN"}]x`,
	`[{"name":01},{"name":"ROLE_ADMIN"}]`, `[ { "name" : "ROLE_ADMIN" } ]`, `[{"":"ROLE_ADMIN"}]`,
}

// firstOfEach must answer what gjson's walk of the same text answers, for
// any text and any item path.
func checkFirstOfEach(t *testing.T, array, item string) {
	t.Helper()
	list := []string{"ROLE_ADMIN", "ROLE_PARTNER", "ROLE_MERCHANT", ""}
	got, want := firstOfEach(array, item, list), firstOfEachGJSON(array, item, list)
	if got != want {
		t.Fatalf("firstOfEach(%q, %q) = %+v, gjson %+v", array, item, got, want)
	}
}

func TestFirstOfEach(t *testing.T) {
	for _, s := range firstOfSeeds {
		for _, item := range []string{"name", "id", "", "a.name", "n*", "0"} {
			checkFirstOfEach(t, s, item)
		}
	}
}

func FuzzFirstOfEach(f *testing.F) {
	for _, s := range firstOfSeeds {
		f.Add(s, "name")
	}
	f.Fuzz(func(t *testing.T, array, item string) { checkFirstOfEach(t, array, item) })
}
