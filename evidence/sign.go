package evidence

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// PredicateType is the in-toto predicate type of the package's
// attestation (cosign verify-blob-attestation --type takes it).
const PredicateType = "https://github.com/nhi-inventory/nhi/evidence/v1"

// inTotoPayloadType is the DSSE payload type of an in-toto Statement.
const inTotoPayloadType = "application/vnd.in-toto+json"

// Keygen writes a new ECDSA P-256 key pair: the private key as PKCS #8
// PEM (mode 0600) and the public key as PKIX PEM, the formats cosign and
// every Sigstore verifier read. It refuses to overwrite either file.
func Keygen(privPath, pubPath string) error {
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists: keep it (or move it away to make a new key pair)", p)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := writeNew(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	if err := writeNew(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		os.Remove(privPath)
		return err
	}
	return nil
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Signer signs packages with an offline ECDSA P-256 key.
type Signer struct {
	key  *ecdsa.PrivateKey
	hint string
}

// LoadSigner reads a private key written by Keygen.
func LoadSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("signing key %s does not exist: create a key pair with `nhi evidence keygen`", path)
		}
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s is not a PEM private key (PKCS #8) as `nhi evidence keygen` writes", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: the signing key must be ECDSA P-256", path)
	}
	h, err := keyHint(&ek.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Signer{key: ek, hint: h}, nil
}

// keyHint is the base64 SHA-256 of the public key (the bundle names the
// key by it, as sigstore-go does).
func keyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// sign.Keypair over the offline key.
func (s *Signer) GetHashAlgorithm() protocommon.HashAlgorithm {
	return protocommon.HashAlgorithm_SHA2_256
}
func (s *Signer) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
}
func (s *Signer) GetHint() []byte                { return []byte(s.hint) }
func (s *Signer) GetKeyAlgorithm() string        { return "ECDSA" }
func (s *Signer) GetPublicKey() crypto.PublicKey { return &s.key.PublicKey }
func (s *Signer) GetPublicKeyPem() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}
func (s *Signer) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	sum := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
	return sig, sum[:], err
}

var _ sign.Keypair = (*Signer)(nil)

// statement is the in-toto Statement of a package: one subject per file
// (manifest.json included), the period and the manifest in the predicate.
func statement(m *Manifest, manifest []byte) ([]byte, error) {
	sum := sha256.Sum256(manifest)
	subjects := []*intoto.ResourceDescriptor{{Name: ManifestName, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}}
	for _, f := range m.Files {
		subjects = append(subjects, &intoto.ResourceDescriptor{Name: f.Name, Digest: map[string]string{"sha256": f.SHA256}})
	}
	sort.Slice(subjects, func(i, j int) bool { return subjects[i].Name < subjects[j].Name })
	pred, err := structpb.NewStruct(map[string]any{
		"format": m.Format, "tool_version": m.ToolVersion,
		"period":         map[string]any{"since": ts(m.Period.Since), "until": ts(m.Period.Until), "as_of": ts(m.Period.AsOf)},
		"inventory_scan": float64(m.InventoryScan), "scans": float64(len(m.Scans)),
	})
	if err != nil {
		return nil, err
	}
	st := &intoto.Statement{Type: intoto.StatementTypeUri, Subject: subjects, PredicateType: PredicateType, Predicate: pred}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	return protojson.Marshal(st)
}

// sign returns the package's Sigstore bundle (JSON): the Statement in a
// DSSE envelope signed with the offline key, the key named by its hint.
func (s *Signer) sign(ctx context.Context, m *Manifest, manifest []byte) ([]byte, error) {
	payload, err := statement(m, manifest)
	if err != nil {
		return nil, err
	}
	pb, err := sign.Bundle(&sign.DSSEData{Data: payload, PayloadType: inTotoPayloadType}, s, sign.BundleOptions{Context: ctx})
	if err != nil {
		return nil, err
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, err
	}
	return b.MarshalJSON()
}

// LoadPublicKey reads a PEM public key (Keygen's .pub).
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%s is not a PEM public key as `nhi evidence keygen` writes", path)
	}
	return x509.ParsePKIXPublicKey(blk.Bytes)
}

// verifyBundle checks the bundle's signature with pub (sigstore-go's
// verifier, no transparency log or timestamp: an offline key) and that its
// statement names manifest.json with digest manifestSum. It returns the
// statement's subjects, name to sha256.
func verifyBundle(raw []byte, pub crypto.PublicKey, manifestSum []byte) (map[string]string, error) {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("the bundle is not a Sigstore bundle: %w", err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(v, time.Time{}, time.Time{}), nil
	})
	ver, err := verify.NewSignedEntityVerifier(tm, verify.WithNoObserverTimestamps())
	if err != nil {
		return nil, err
	}
	res, err := ver.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", manifestSum), verify.WithKey()))
	if err != nil {
		return nil, err
	}
	if res.Statement == nil {
		return nil, errors.New("the bundle holds no in-toto statement")
	}
	if res.Statement.GetPredicateType() != PredicateType {
		return nil, fmt.Errorf("the statement's predicate type is %q, not %q", res.Statement.GetPredicateType(), PredicateType)
	}
	out := map[string]string{}
	for _, s := range res.Statement.GetSubject() {
		if _, dup := out[s.GetName()]; dup {
			return nil, fmt.Errorf("the statement names %s twice", s.GetName())
		}
		out[s.GetName()] = s.GetDigest()["sha256"]
	}
	return out, nil
}
