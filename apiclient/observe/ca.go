package observe

// tokenscope's own certificate authority, for the forward proxy's CONNECT tunnels: a root made
// on first use and kept 0600 in the user's config directory, and short-lived leaf certificates
// minted per CONNECT target. Both pass strict X.509 checks (OpenSSL's X509_STRICT, which Python
// 3.13 turns on by default): critical basicConstraints, keyUsage, subject and authority key ids,
// and serverAuth on the leaves.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"tokenscope/internal/cappedfile"
	"tokenscope/internal/privfile"
)

// The CA's files in its directory.
const (
	CACertFile = "observe-ca.pem"
	CAKeyFile  = "observe-ca-key.pem"
)

const (
	caLife   = 10 * 365 * 24 * time.Hour
	leafLife = 24 * time.Hour
	// leafRenew: a cached leaf this close to its end is minted again.
	leafRenew = time.Hour
	// maxLeaves bounds the cache; past it the cache starts over.
	maxLeaves = 1024
)

// CA is tokenscope's certificate authority for one machine. It is safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	dir     string
	// Every leaf shares one key: minting is then a signature, not a key generation.
	leafKey *ecdsa.PrivateKey

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
	now    func() time.Time
}

// DefaultCADir is where the CA lives: the user's config directory, tokenscope/.
func DefaultCADir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory for the CA: %w", err)
	}
	return filepath.Join(dir, "tokenscope"), nil
}

// CAPath is the CA certificate's path in dir: what a client must trust.
func CAPath(dir string) string { return filepath.Join(dir, CACertFile) }

// LoadOrCreateCA reads the CA kept in dir, or makes one (and the directory, 0700) when there is
// none. A CA that cannot be read is an error that names its files, never replaced in silence:
// clients may trust it.
func LoadOrCreateCA(dir string) (*CA, error) {
	certPEM, err := cappedfile.Read(filepath.Join(dir, CACertFile), 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return createCA(dir)
	}
	if err != nil {
		return nil, err
	}
	keyPEM, err := cappedfile.Read(filepath.Join(dir, CAKeyFile), 1<<20)
	if err != nil {
		return nil, err
	}
	return parseCA(dir, certPEM, keyPEM)
}

func parseCA(dir string, certPEM, keyPEM []byte) (*CA, error) {
	bad := func(what string, err error) error {
		return fmt.Errorf("tokenscope's CA in %s: %s: %v (remove %s and %s to make a new one)", dir, what, err, CACertFile, CAKeyFile)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, bad("not PEM", errors.New("no PEM block"))
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, bad("certificate", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, bad("key", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, bad("key", errors.New("it does not match the certificate"))
	}
	if time.Now().After(cert.NotAfter) {
		return nil, bad("certificate", fmt.Errorf("expired %s", cert.NotAfter.Format(time.DateOnly)))
	}
	return newCA(dir, cert, key, certPEM)
}

func newCA(dir string, cert *x509.Certificate, key crypto.Signer, certPEM []byte) (*CA, error) {
	lk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, certPEM: certPEM, dir: dir, leafKey: lk, leaves: map[string]*tls.Certificate{}, now: time.Now}, nil
}

// caName says tokenscope and the machine (and the user): a user who meets it in a trust store
// knows what it is and where it came from.
func caName() string {
	host, _ := os.Hostname()
	who := ""
	if u, err := user.Current(); err == nil {
		who = u.Username + "@"
	}
	return strings.TrimSpace(fmt.Sprintf("tokenscope observe CA (%s%s)", who, host))
}

func createCA(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: caName(), Organization: []string{"tokenscope"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLife),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The key first: a certificate without its key would be a CA nobody can use.
	if err := writeNew(filepath.Join(dir, CAKeyFile), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return caMadeElsewhere(dir)
		}
		return nil, err
	}
	if err := writeNew(filepath.Join(dir, CACertFile), certPEM); err != nil {
		return nil, err
	}
	return newCA(dir, cert, key, certPEM)
}

// caMadeElsewhere reads the CA another tokenscope is making at the same moment (its key is there,
// its certificate follows at once); a key left without a certificate is an error naming it.
func caMadeElsewhere(dir string) (*CA, error) {
	for range 20 {
		if _, err := os.Stat(filepath.Join(dir, CACertFile)); err == nil {
			time.Sleep(50 * time.Millisecond) // written whole
			return LoadOrCreateCA(dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("tokenscope's CA in %s: %s is there without %s (remove it to make a new CA)", dir, CAKeyFile, CACertFile)
}

// writeNew writes a file that must not exist yet, 0600.
func writeNew(path string, data []byte) error {
	f, err := privfile.Open(path, privfile.New)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1)) // positive, never zero
}

// keyID is RFC 5280 §4.2.1.2's method (1): the SHA-1 of the public key's bits.
func keyID(pub *ecdsa.PublicKey) []byte {
	b, _ := pub.Bytes()
	h := sha1.Sum(b)
	return h[:]
}

// PEM is the CA certificate, PEM-encoded: what clients trust.
func (c *CA) PEM() []byte { return c.certPEM }

// Path is the CA certificate's file.
func (c *CA) Path() string { return CAPath(c.dir) }

// Name is the CA's subject common name.
func (c *CA) Name() string { return c.cert.Subject.CommonName }

// Leaf returns a certificate for host (a DNS name, or an IP address: then its SAN is an IP
// address, since clients send no SNI for IP literals), minted once and cached until near its end.
func (c *CA) Leaf(host string) (*tls.Certificate, error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return nil, errors.New("no host name to make a certificate for")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if l := c.leaves[host]; l != nil && now.Add(leafRenew).Before(l.Leaf.NotAfter) {
		return l, nil
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: host, Organization: []string{"tokenscope observe"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(leafLife),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID(&c.leafKey.PublicKey),
		AuthorityKeyId:        c.cert.SubjectKeyId,
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &c.leafKey.PublicKey, c.key)
	if err != nil {
		return nil, err
	}
	leaf, _ := x509.ParseCertificate(der)
	l := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: c.leafKey, Leaf: leaf}
	if len(c.leaves) >= maxLeaves {
		clear(c.leaves)
	}
	c.leaves[host] = l
	return l, nil
}

// CABundleFile is the bundle of the system's roots and tokenscope's CA, in the CA's directory.
const CABundleFile = "observe-ca-bundle.pem"

// systemBundles are where systems keep their root certificates as one PEM file (Debian and
// Ubuntu, Fedora and RHEL, openSUSE, Alpine and macOS), after an SSL_CERT_FILE the user set.
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// WriteBundle writes the bundle a client is pointed at (SSL_CERT_FILE and the like replace the
// system's roots, so tokenscope's CA alone would break the client's other https calls): the
// system's roots, then the CA. It is written afresh each time, as the system's roots change. The
// second result names the system bundle used, "" when none was found (the bundle then holds the
// CA alone).
func (c *CA) WriteBundle() (path, system string, err error) {
	var roots []byte
	for _, p := range append([]string{os.Getenv("SSL_CERT_FILE")}, systemBundles...) {
		if p == "" || p == filepath.Join(c.dir, CABundleFile) {
			continue
		}
		if b, err := cappedfile.Read(p, 16<<20); err == nil && len(b) > 0 {
			roots, system = b, p
			break
		}
	}
	path = filepath.Join(c.dir, CABundleFile)
	f, err := privfile.Open(path, privfile.Truncate)
	if err != nil {
		return "", "", err
	}
	if len(roots) > 0 && roots[len(roots)-1] != '\n' {
		roots = append(roots, '\n')
	}
	if _, err := f.Write(append(roots, c.certPEM...)); err != nil {
		f.Close()
		return "", "", err
	}
	return path, system, f.Close()
}
