package regiontest

// Conns returns how many connections p has accepted and not yet closed, so
// tests can wait until the proxy has taken a connection they dialed.
func Conns(p *Proxy) int { return len(p.snapshot()) }
