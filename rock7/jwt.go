package rock7

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Issuer is the iss claim of Rock7's JWT.
const Issuer = "Rock 7"

// ErrSignature is a JWT that is malformed, not RS256, or not signed by the key.
var ErrSignature = errors.New("JWT not valid")

// verifyJWT checks token's RS256 signature with key and returns its claims,
// each as the text it holds (Rock7 signs every field as a string; a number
// claim is taken as its literal).
func verifyJWT(key *rsa.PublicKey, token string) (map[string]string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: %d parts, want 3", ErrSignature, len(parts))
	}
	enc := base64.RawURLEncoding
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrSignature, err)
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrSignature, err)
	}
	if hdr.Alg != "RS256" {
		return nil, fmt.Errorf("%w: alg %q, want RS256", ErrSignature, hdr.Alg)
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrSignature, err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("%w: signature does not verify", ErrSignature)
	}
	pb, err := enc.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrSignature, err)
	}
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(pb, &raw); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrSignature, err)
	}
	claims := make(map[string]string, len(raw))
	for k, v := range raw {
		claims[k] = literal(v)
	}
	return claims, nil
}

// literal is a JSON value as text: a string's content, else the value as written.
func literal(v json.RawMessage) string {
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(v))
}
