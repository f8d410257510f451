package sim

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// ReadPrivateKey reads an RSA private key in PEM (PKCS #1 "RSA PRIVATE KEY"
// or PKCS #8 "PRIVATE KEY"), the key that signs webhook deliveries.
func ReadPrivateKey(path string) (*rsa.PrivateKey, error) {
	b, err := readSecret(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode([]byte(b))
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	switch blk.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: key is %T, want RSA", path, k)
		}
		return rk, nil
	}
	return nil, fmt.Errorf("%s: PEM block %q, want an RSA private key", path, blk.Type)
}

// readSecret reads a file that only its owner may read (mode 0600 or
// stricter), trimmed of surrounding white space.
func readSecret(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%s has mode %04o: others may read it; chmod 600 it", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", errors.New(path + " is empty")
	}
	return string(b), nil
}
