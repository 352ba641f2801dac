package pki

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"slices"
	"strings"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

var keyUsageByName = map[cmapi.KeyUsage]x509.KeyUsage{
	cmapi.UsageSigning:           x509.KeyUsageDigitalSignature,
	cmapi.UsageDigitalSignature:  x509.KeyUsageDigitalSignature,
	cmapi.UsageContentCommitment: x509.KeyUsageContentCommitment,
	cmapi.UsageKeyEncipherment:   x509.KeyUsageKeyEncipherment,
	cmapi.UsageKeyAgreement:      x509.KeyUsageKeyAgreement,
	cmapi.UsageDataEncipherment:  x509.KeyUsageDataEncipherment,
	cmapi.UsageCertSign:          x509.KeyUsageCertSign,
	cmapi.UsageCRLSign:           x509.KeyUsageCRLSign,
	cmapi.UsageEncipherOnly:      x509.KeyUsageEncipherOnly,
	cmapi.UsageDecipherOnly:      x509.KeyUsageDecipherOnly,
}

var extKeyUsageByName = map[cmapi.KeyUsage]x509.ExtKeyUsage{
	cmapi.UsageAny:             x509.ExtKeyUsageAny,
	cmapi.UsageServerAuth:      x509.ExtKeyUsageServerAuth,
	cmapi.UsageClientAuth:      x509.ExtKeyUsageClientAuth,
	cmapi.UsageCodeSigning:     x509.ExtKeyUsageCodeSigning,
	cmapi.UsageEmailProtection: x509.ExtKeyUsageEmailProtection,
	cmapi.UsageSMIME:           x509.ExtKeyUsageEmailProtection,
	cmapi.UsageIPsecEndSystem:  x509.ExtKeyUsageIPSECEndSystem,
	cmapi.UsageIPsecTunnel:     x509.ExtKeyUsageIPSECTunnel,
	cmapi.UsageIPsecUser:       x509.ExtKeyUsageIPSECUser,
	cmapi.UsageTimestamping:    x509.ExtKeyUsageTimeStamping,
	cmapi.UsageOCSPSigning:     x509.ExtKeyUsageOCSPSigning,
	cmapi.UsageMicrosoftSGC:    x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	cmapi.UsageNetscapeSGC:     x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

// DefaultUsagesFor returns the usages requested when spec.usages is empty:
// "digital signature" and "key encipherment", without key encipherment for
// keys that cannot encipher (anything but RSA). A nil public key gives the
// plain API default.
func DefaultUsagesFor(pub crypto.PublicKey) []cmapi.KeyUsage {
	usages := cmapi.DefaultKeyUsages()
	if pub == nil {
		return usages
	}
	if _, isRSA := pub.(*rsa.PublicKey); isRSA {
		return usages
	}
	return slices.DeleteFunc(usages, func(u cmapi.KeyUsage) bool { return u == cmapi.UsageKeyEncipherment })
}

// KeyUsages turns Certificate / CertificateRequest usages into X.509 key
// usage bits and extended key usages. Empty usages mean DefaultUsagesFor(pub);
// isCA adds "cert sign". Names are matched case-insensitively; extended key
// usages are deduplicated, keeping their first position. Unknown names give
// a non-retryable "InvalidCertificateSpec" error.
func KeyUsages(usages []cmapi.KeyUsage, isCA bool, pub crypto.PublicKey) (x509.KeyUsage, []x509.ExtKeyUsage, error) {
	var ku x509.KeyUsage
	var ekus []x509.ExtKeyUsage
	if isCA {
		ku |= x509.KeyUsageCertSign
	}
	if len(usages) == 0 {
		usages = DefaultUsagesFor(pub)
	}
	var unknown []string
	for _, u := range usages {
		name := cmapi.KeyUsage(strings.ToLower(strings.TrimSpace(string(u))))
		if k, ok := keyUsageByName[name]; ok {
			ku |= k
			continue
		}
		if e, ok := extKeyUsageByName[name]; ok {
			if !slices.Contains(ekus, e) {
				ekus = append(ekus, e)
			}
			continue
		}
		unknown = append(unknown, string(u))
	}
	if len(unknown) > 0 {
		return 0, nil, specErrorf("unknown key usages: %q", unknown)
	}
	return ku, ekus, nil
}
