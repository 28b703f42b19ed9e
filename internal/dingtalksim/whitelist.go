package dingtalksim

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
)

// Server IP whitelists (App.AllowedIPs).

// parseAllowedIPs parses a whitelist of IPs and CIDRs.
func parseAllowedIPs(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, v := range list {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			addr, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return nil, fmt.Errorf("%w: allowed IP %q is neither an IP nor a CIDR", ErrInvalid, v)
			}
			p = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// allows says whether a call from ip may act as the app; authStore.mu is held.
func (a *appState) allows(ip string) bool {
	if len(a.allowed) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	return slices.ContainsFunc(a.allowed, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// SetAppWhitelist replaces appKey's server IP whitelist (IPs or CIDRs; empty allows every
// IP). It applies at once, to tokens already issued too.
func (s *Server) SetAppWhitelist(appKey string, allowedIPs []string) error {
	allowed, err := parseAllowedIPs(allowedIPs)
	if err != nil {
		return err
	}
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	app := a.apps[appKey]
	if app == nil {
		return fmt.Errorf("%w: app %q", ErrNotFound, appKey)
	}
	app.AllowedIPs, app.allowed = slices.Clone(allowedIPs), allowed
	return nil
}

// ipDenied answers a call from outside the app's whitelist.
func (c *call) ipDenied() reply {
	msg := "访问ip不在白名单之中,请求ip为" + c.ip
	if c.route.family == newAPI {
		return c.apiFail(http.StatusForbidden, APICodeIPNotAllowed, msg, OutcomeDenied)
	}
	return c.fail(CodeIPNotAllowed, msg, OutcomeDenied)
}

func (s *Server) adminSetWhitelist(r *http.Request) (int, any, error) {
	var req struct {
		AllowedIPs []string `json:"allowedIps"`
	}
	if err := readJSON(r, &req); err != nil {
		return 0, nil, err
	}
	if err := s.SetAppWhitelist(r.PathValue("appKey"), req.AllowedIPs); err != nil {
		return 0, nil, err
	}
	s.logger.Info("app whitelist changed", "appKey", r.PathValue("appKey"), "allowedIps", req.AllowedIPs)
	return http.StatusNoContent, nil, nil
}
