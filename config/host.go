package config

import (
	"errors"
	"net"
	"strconv"
	"strings"
)

// Why a dialect's host is refused. Matching compares it with the request's
// Host without its port, case aside: anything else in it would match no
// request, silently.
var (
	errHostScheme = errors.New("a host name or IP address, without a scheme (http://, https://)")
	errHostPath   = errors.New("a host name or IP address, without a path")
	errHostPort   = errors.New("a host name or IP address, without a port: the request's Host is matched without its port")
	errHostIPv6   = errors.New("an IPv6 address is written without brackets")
	errHostName   = errors.New("not a host name: labels of letters, digits and '-' (not first or last), 1 to 63 characters each, 253 in all, separated by dots")
)

// checkHost refuses what no request's Host (its port aside) can equal.
func checkHost(h string) error {
	switch {
	case strings.Contains(h, "://"):
		return errHostScheme
	case strings.ContainsAny(h, "/?#"):
		return errHostPath
	case strings.HasPrefix(h, "["):
		if ip := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"); net.ParseIP(ip) != nil {
			return errHostIPv6
		}
		return errHostPort
	case net.ParseIP(h) != nil:
		return nil
	}
	if host, port, err := net.SplitHostPort(h); err == nil && host != "" {
		if _, perr := strconv.Atoi(port); perr == nil || port == "" {
			return errHostPort
		}
	}
	if len(h) > 253 {
		return errHostName
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errHostName
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
				return errHostName
			}
		}
	}
	return nil
}
