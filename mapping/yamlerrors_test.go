package mapping

import (
	"errors"
	"strings"
	"testing"
)

// TestYAMLErrorsIn: a decoding's problems become one error each, every one
// wrapping the sentinel and the problem and naming the file, as both rule
// files (a dialect's, profile rules') report them (the two kept a copy of
// this each).
func TestYAMLErrorsIn(t *testing.T) {
	var f struct {
		A int    `yaml:"a"`
		B string `yaml:"b"`
	}
	_, err := DecodeYAML([]byte("a: x\nc: 1\n"), &f)
	var list YAMLErrors
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("want two problems: %v", err)
	}
	sentinel := errors.New("invalid rules")
	joined := list.In(sentinel, "f.yaml")
	each := joined.(interface{ Unwrap() []error }).Unwrap()
	if len(each) != 2 {
		t.Fatalf("want one error per problem: %v", joined)
	}
	for i, e := range each {
		var ye *YAMLError
		if !errors.Is(e, sentinel) || !errors.As(e, &ye) || ye != list[i] || !strings.HasPrefix(e.Error(), "invalid rules: f.yaml: ") {
			t.Errorf("problem %d: %v", i, e)
		}
	}
}
