package eservice

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address the per-IP limits count: the peer, or, when the
// peer is a trusted proxy, the nearest address in X-Forwarded-For that is
// not one of the trusted proxies (entries further left are the client's
// own claims and could be forged).
func (h *Handler) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !h.trusted(host) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				hops = append(hops, p)
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if _, err := netip.ParseAddr(hops[i]); err != nil {
			return host // a malformed hop: fall back to the proxy itself
		}
		if !h.trusted(hops[i]) {
			return hops[i]
		}
	}
	return host
}

func (h *Handler) trusted(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range h.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// clientKey is what the per-client limits count a request against: its
// client's IPv4 address, or the /64 of its IPv6 address, since one
// subscriber usually holds a whole /64 and can use any address in it.
func (h *Handler) clientKey(r *http.Request) string {
	ip := h.clientIP(r)
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is6() {
		return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
	}
	return a.String()
}
