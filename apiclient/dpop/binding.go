package dpop

// Binding is how an access token is bound to a key, as its cnf.jkt claim says (RFC 9449 §6.1).
type Binding string

// Bindings.
const (
	BindingNoToken  Binding = ""         // no access token
	BindingMatch    Binding = "match"    // cnf.jkt is the key's thumbprint
	BindingMismatch Binding = "mismatch" // cnf.jkt names another key: the server will refuse it
	BindingNoCnf    Binding = "no-cnf"   // a JWT without cnf.jkt: not bound, or not saying
	BindingOpaque   Binding = "opaque"   // not a JWT: only the server knows
)

// CnfJKT is the cnf.jkt claim among a JWT's claims, or "".
func CnfJKT(claims map[string]any) string {
	cnf, _ := claims["cnf"].(map[string]any)
	jkt, _ := cnf["jkt"].(string)
	return jkt
}

// BindingOf compares an access token's cnf.jkt with jkt, the thumbprint of the key that proves
// it: raw is the token, isJWT whether it is a JWT, and claims its claims when it is.
func BindingOf(raw string, isJWT bool, claims map[string]any, jkt string) Binding {
	switch {
	case raw == "":
		return BindingNoToken
	case !isJWT:
		return BindingOpaque
	}
	switch c := CnfJKT(claims); c {
	case "":
		return BindingNoCnf
	case jkt:
		return BindingMatch
	}
	return BindingMismatch
}
