package adapters

import "strings"

// PathParams are path parameters by name; they satisfy mapping.Params.
type PathParams map[string]string

// ByName implements mapping.Params.
func (p PathParams) ByName(name string) string { return p[name] }

// MatchPath extracts the parameters of a request path under a route
// pattern in gin syntax (/users/:id), or returns nil when it does not match.
// The server routes with gin; this serves the CLI and the golden runner.
func MatchPath(route, path string) PathParams {
	rs, ps := strings.Split(route, "/"), strings.Split(path, "/")
	if len(rs) != len(ps) {
		return nil
	}
	out := PathParams{}
	for i := range rs {
		switch {
		case strings.HasPrefix(rs[i], ":"):
			if ps[i] == "" {
				return nil
			}
			out[rs[i][1:]] = ps[i]
		case rs[i] != ps[i]:
			return nil
		}
	}
	return out
}
