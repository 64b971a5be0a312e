package signed

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParsePublicKeyPEM parses the first PEM block of data: a PUBLIC KEY
// (PKIX), an RSA PUBLIC KEY (PKCS #1) or a CERTIFICATE, whose key is
// returned. Only Ed25519 and RSA keys are accepted.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("signed: no PEM block found")
	}
	var pub crypto.PublicKey
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("signed: PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("signed: %v", err)
	}
	switch pub := pub.(type) {
	case ed25519.PublicKey:
	case *rsa.PublicKey:
		if err := checkRSA(pub); err != nil {
			return nil, fmt.Errorf("signed: %v", err)
		}
	default:
		return nil, fmt.Errorf("signed: unsupported key type %T (want Ed25519 or RSA)", pub)
	}
	return pub, nil
}

// ParsePrivateKeyPEM parses the first PEM block of data: a PRIVATE KEY
// (PKCS #8) or an RSA PRIVATE KEY (PKCS #1). Only Ed25519 and RSA keys are
// accepted. Encrypted PEM is not supported.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("signed: no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("signed: PEM block %q is not a supported private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("signed: %v", err)
	}
	switch key := key.(type) {
	case ed25519.PrivateKey:
		return key, nil
	case *rsa.PrivateKey:
		if err := checkRSA(&key.PublicKey); err != nil {
			return nil, fmt.Errorf("signed: %v", err)
		}
		return key, nil
	default:
		return nil, fmt.Errorf("signed: unsupported key type %T (want Ed25519 or RSA)", key)
	}
}

// MarshalPrivateKeyPEM encodes key as a PKCS #8 PRIVATE KEY block.
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("signed: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKeyPEM encodes pub as a PKIX PUBLIC KEY block.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("signed: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
