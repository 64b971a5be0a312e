package signed

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
)

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func x509PKCS1Private(k *rsa.PrivateKey) []byte { return x509.MarshalPKCS1PrivateKey(k) }
func x509PKCS1Public(k *rsa.PublicKey) []byte   { return x509.MarshalPKCS1PublicKey(k) }
