package fakedns

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Route53 serves Amazon Route 53's REST-XML API (2013-04-01) over a Store, and STS's
// AssumeRole query API on the same address, in their wire formats, so the AWS SDK's
// route53 and sts clients (and lego's provider) work against it with BaseEndpoint:
//
//   - GET  /2013-04-01/hostedzonesbyname?dnsname=&hostedzoneid=&maxitems=
//   - GET  /2013-04-01/hostedzone/{Id}
//   - GET  /2013-04-01/hostedzone/{Id}/rrset?name=&type=&maxitems=
//   - POST /2013-04-01/hostedzone/{Id}/rrset (ChangeResourceRecordSets: CREATE, DELETE
//     and UPSERT, applied as one atomic batch with Route 53's InvalidChangeBatch
//     messages: a CREATE of a set that exists, a DELETE of one that does not or whose
//     TTL and values are not the current ones)
//   - GET  /2013-04-01/change/{Id} (PENDING when made, INSYNC when asked)
//   - POST / Action=AssumeRole (STS, 2011-06-15)
//
// Every request must carry an AWS Signature Version 4 that the server recomputes
// (with the SDK's own signer) from the request, its body and the secret key of the
// access key it names: an unknown access key is answered 403 InvalidClientTokenId, a
// wrong signature 403 SignatureDoesNotMatch, in Route 53's (or STS's) XML error shape.
// Route 53 requests are signed for service route53 in us-east-1. TXT values are
// stored in the Store unquoted (what a resolver returns) and listed quoted.
type Route53 struct {
	Store *Store
	// Keys maps the access key IDs of long-term credentials to their secret keys.
	Keys map[string]string
	// Roles maps role ARNs to the access key IDs (of Keys) allowed to assume them.
	Roles map[string][]string
	// Now is the server's clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	temp    map[string]r53TempCred // temporary credentials from AssumeRole, by key ID
	changes map[string]bool        // change IDs made
	nextID  int
}

type r53TempCred struct {
	secret, token string
	expires       time.Time
}

const (
	r53NS  = "https://route53.amazonaws.com/doc/2013-04-01/"
	stsNS  = "https://sts.amazonaws.com/doc/2011-06-15/"
	r53Max = 300
)

// Route53ZoneID is the hosted zone ID the fake gives zone (without "/hostedzone/").
func Route53ZoneID(zone string) string {
	sum := sha1.Sum([]byte(Norm(zone)))
	return "Z" + strings.ToUpper(hex.EncodeToString(sum[:]))[:13]
}

// Handler returns the API handler.
func (f *Route53) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2013-04-01/hostedzonesbyname", f.listZonesByName)
	mux.HandleFunc("GET /2013-04-01/hostedzone/{id}", f.getZone)
	mux.HandleFunc("GET /2013-04-01/hostedzone/{id}/rrset", f.listSets)
	mux.HandleFunc("POST /2013-04-01/hostedzone/{id}/rrset", f.changeSets)
	mux.HandleFunc("POST /2013-04-01/hostedzone/{id}/rrset/", f.changeSets)
	mux.HandleFunc("GET /2013-04-01/change/{id}", f.getChange)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		r53Error(w, http.StatusNotFound, "Sender", "UnknownOperationException", "Unknown operation "+r.Method+" "+r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			r53Error(w, http.StatusBadRequest, "Sender", "InvalidInput", "unreadable body")
			return
		}
		sts := !strings.HasPrefix(r.URL.Path, "/2013-04-01/")
		service := "route53"
		if sts {
			service = "sts"
		}
		if status, code, msg := f.authenticate(r, body, service); code != "" {
			if sts {
				stsError(w, status, code, msg)
			} else {
				r53Error(w, status, "Sender", code, msg)
			}
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if sts {
			f.sts(w, r, body)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (f *Route53) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// authenticate checks the request's SigV4 signature; a non-empty code is the error.
func (f *Route53) authenticate(r *http.Request, body []byte, service string) (int, string, string) {
	const algo = "AWS4-HMAC-SHA256 "
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return http.StatusForbidden, "MissingAuthenticationToken", "Missing Authentication Token"
	}
	if !strings.HasPrefix(auth, algo) {
		return http.StatusBadRequest, "IncompleteSignature", "Unsupported AWS 'algorithm': '" + strings.SplitN(auth, " ", 2)[0] + "'"
	}
	var cred, signedHeaders, sig string
	for _, part := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signedHeaders = v
		case "Signature":
			sig = v
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || signedHeaders == "" || sig == "" {
		return http.StatusBadRequest, "IncompleteSignature", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."
	}
	keyID, date, region, svc := scope[0], scope[1], scope[2], scope[3]
	secret, token, known := f.secretOf(keyID)
	if !known {
		return http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."
	}
	if token != "" && r.Header.Get("X-Amz-Security-Token") != token {
		return http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."
	}
	if svc != service || (service == "route53" && region != "us-east-1") {
		return http.StatusForbidden, "SignatureDoesNotMatch", fmt.Sprintf("Credential should be scoped to correct service: '%s' in region 'us-east-1'.", service)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != date {
		return http.StatusBadRequest, "IncompleteSignature", "Date must be in ISO-8601 'basic format'. Got '" + r.Header.Get("X-Amz-Date") + "'."
	}
	if d := f.now().Sub(at); d > 5*time.Minute || d < -5*time.Minute {
		return http.StatusForbidden, "SignatureDoesNotMatch", "Signature expired: " + at.Format("20060102T150405Z") + " is now earlier than " + f.now().Add(-5*time.Minute).UTC().Format("20060102T150405Z")
	}
	// Recompute the signature over the headers the client signed, the actual body, and
	// the secret we hold.
	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return http.StatusBadRequest, "InvalidInput", err.Error()
	}
	req.Host = r.Host
	for _, h := range strings.Split(signedHeaders, ";") {
		switch h {
		case "host":
		case "content-length":
			req.ContentLength = int64(len(body))
		default:
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	err = v4.NewSigner().SignHTTP(r.Context(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret, SessionToken: token},
		req, hex.EncodeToString(sum[:]), svc, region, at)
	if err != nil {
		return http.StatusInternalServerError, "InternalFailure", err.Error()
	}
	_, want, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	}
	return 0, "", ""
}

func (f *Route53) secretOf(keyID string) (secret, token string, ok bool) {
	if s, ok := f.Keys[keyID]; ok {
		return s, "", true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.temp[keyID]
	if !ok || !f.now().Before(t.expires) {
		return "", "", false
	}
	return t.secret, t.token, true
}

type r53ErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	NS        string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func r53Error(w http.ResponseWriter, status int, typ, code, msg string) {
	writeXML(w, status, r53ErrorResponse{NS: r53NS, Type: typ, Code: code, Message: msg, RequestID: requestID()})
}

func stsError(w http.ResponseWriter, status int, code, msg string) {
	writeXML(w, status, r53ErrorResponse{NS: stsNS, Type: "Sender", Code: code, Message: msg, RequestID: requestID()})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID())
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// sts serves STS's query API: AssumeRole only.
func (f *Route53) sts(w http.ResponseWriter, r *http.Request, body []byte) {
	form, err := url.ParseQuery(string(body))
	if err != nil || r.Method != http.MethodPost {
		stsError(w, http.StatusBadRequest, "InvalidInput", "expected a POST of a form")
		return
	}
	if a := form.Get("Action"); a != "AssumeRole" {
		stsError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", a, form.Get("Version")))
		return
	}
	arn, session := form.Get("RoleArn"), form.Get("RoleSessionName")
	if arn == "" || session == "" {
		stsError(w, http.StatusBadRequest, "ValidationError", "RoleArn and RoleSessionName are required")
		return
	}
	caller := strings.Split(strings.Split(r.Header.Get("Authorization"), "Credential=")[1], "/")[0]
	if !slices.Contains(f.Roles[arn], caller) {
		stsError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf("User: arn:aws:iam::000000000000:user/%s is not authorized to perform: sts:AssumeRole on resource: %s", caller, arn))
		return
	}
	dur := time.Hour
	if s := form.Get("DurationSeconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 900 || n > 43200 {
			stsError(w, http.StatusBadRequest, "ValidationError", "1 validation error detected: Value '"+s+"' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200")
			return
		}
		dur = time.Duration(n) * time.Second
	}
	const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	id := "ASIA" + randomString(upper, 16)
	cred := r53TempCred{secret: randomString(b64, 40), token: randomString(b64, 120), expires: f.now().Add(dur)}
	f.mu.Lock()
	if f.temp == nil {
		f.temp = map[string]r53TempCred{}
	}
	f.temp[id] = cred
	f.mu.Unlock()
	roleName := arn[strings.LastIndex(arn, "/")+1:]
	type credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	}
	writeXML(w, http.StatusOK, struct {
		XMLName         xml.Name    `xml:"AssumeRoleResponse"`
		NS              string      `xml:"xmlns,attr"`
		Credentials     credentials `xml:"AssumeRoleResult>Credentials"`
		AssumedRoleArn  string      `xml:"AssumeRoleResult>AssumedRoleUser>Arn"`
		AssumedRoleID   string      `xml:"AssumeRoleResult>AssumedRoleUser>AssumedRoleId"`
		ResponseRequest string      `xml:"ResponseMetadata>RequestId"`
	}{
		NS:              stsNS,
		Credentials:     credentials{AccessKeyID: id, SecretAccessKey: cred.secret, SessionToken: cred.token, Expiration: cred.expires.UTC().Format(time.RFC3339)},
		AssumedRoleArn:  "arn:aws:sts::000000000000:assumed-role/" + roleName + "/" + session,
		AssumedRoleID:   "AROA" + randomString(upper, 17) + ":" + session,
		ResponseRequest: requestID(),
	})
}

type r53Zone struct {
	ID          string `xml:"Id"`
	Name        string `xml:"Name"`
	CallerRef   string `xml:"CallerReference"`
	PrivateZone bool   `xml:"Config>PrivateZone"`
	Count       int    `xml:"ResourceRecordSetCount"`
}

func (f *Route53) zoneXML(zone string) r53Zone {
	return r53Zone{ID: "/hostedzone/" + Route53ZoneID(zone), Name: zone + ".", CallerRef: "certflow-" + zone, Count: len(f.sets(zone))}
}

// zoneKey sorts names as Route 53 does: by their labels in reverse order.
func zoneKey(name string) string {
	labels := strings.Split(Norm(name), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

func maxItems(q url.Values, def int) (int, bool) {
	s := q.Get("maxitems")
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

func (f *Route53) listZonesByName(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	max, ok := maxItems(q, 100)
	if !ok {
		r53Error(w, http.StatusBadRequest, "Sender", "InvalidInput", "Invalid maxitems")
		return
	}
	zones := f.Store.Zones()
	sort.Slice(zones, func(i, j int) bool { return zoneKey(zones[i]) < zoneKey(zones[j]) })
	start := Norm(q.Get("dnsname"))
	if q.Get("hostedzoneid") != "" && start == "" {
		r53Error(w, http.StatusBadRequest, "Sender", "InvalidInput", "The DNS name is required when the hosted zone ID is specified.")
		return
	}
	type resp struct {
		XMLName     xml.Name  `xml:"ListHostedZonesByNameResponse"`
		NS          string    `xml:"xmlns,attr"`
		Zones       []r53Zone `xml:"HostedZones>HostedZone"`
		DNSName     string    `xml:"DNSName,omitempty"`
		IsTruncated bool      `xml:"IsTruncated"`
		NextDNSName string    `xml:"NextDNSName,omitempty"`
		NextZoneID  string    `xml:"NextHostedZoneId,omitempty"`
		MaxItems    int       `xml:"MaxItems"`
	}
	out := resp{NS: r53NS, MaxItems: max, Zones: []r53Zone{}}
	if q.Get("dnsname") != "" {
		out.DNSName = start + "."
	}
	for _, z := range zones {
		if start != "" && zoneKey(z) < zoneKey(start) {
			continue
		}
		if len(out.Zones) == max {
			out.IsTruncated, out.NextDNSName, out.NextZoneID = true, z+".", Route53ZoneID(z)
			break
		}
		out.Zones = append(out.Zones, f.zoneXML(z))
	}
	writeXML(w, http.StatusOK, out)
}

// zone returns the zone named by the path's hosted zone ID, or answers NoSuchHostedZone.
func (f *Route53) zone(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := strings.TrimPrefix(r.PathValue("id"), "hostedzone/")
	for _, z := range f.Store.Zones() {
		if Route53ZoneID(z) == id {
			return z, true
		}
	}
	r53Error(w, http.StatusNotFound, "Sender", "NoSuchHostedZone", "No hosted zone found with ID: "+id)
	return "", false
}

func (f *Route53) getZone(w http.ResponseWriter, r *http.Request) {
	z, ok := f.zone(w, r)
	if !ok {
		return
	}
	writeXML(w, http.StatusOK, struct {
		XMLName     xml.Name `xml:"GetHostedZoneResponse"`
		NS          string   `xml:"xmlns,attr"`
		Zone        r53Zone  `xml:"HostedZone"`
		NameServers []string `xml:"DelegationSet>NameServers>NameServer"`
	}{NS: r53NS, Zone: f.zoneXML(z), NameServers: []string{"ns-1.fake-route53.invalid"}})
}

// r53Set is a resource record set: the records of one name and type.
type r53Set struct {
	Name   string  `xml:"Name"`
	Type   string  `xml:"Type"`
	TTL    int64   `xml:"TTL"`
	Values []r53RR `xml:"ResourceRecords>ResourceRecord"`
}

type r53RR struct {
	Value string `xml:"Value"`
}

// r53Quote is a TXT value as Route 53 shows it: one quoted character string.
func r53Quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// r53Unquote reads a TXT value of quoted character strings ("a" "b"), which it joins.
func r53Unquote(v string) (string, bool) {
	v = strings.TrimSpace(v)
	var out strings.Builder
	for v != "" {
		if v[0] != '"' {
			return "", false
		}
		i, esc := 1, false
		for ; i < len(v); i++ {
			if esc {
				esc = false
				out.WriteByte(v[i])
				continue
			}
			if v[i] == '\\' {
				esc = true
				continue
			}
			if v[i] == '"' {
				break
			}
			out.WriteByte(v[i])
		}
		if i >= len(v) {
			return "", false
		}
		v = strings.TrimSpace(v[i+1:])
	}
	return out.String(), true
}

func setsOf(recs []Record) []r53Set {
	var out []r53Set
	idx := map[[2]string]int{}
	for _, r := range recs {
		k := [2]string{r.Name, r.Type}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, r53Set{Name: r.Name + ".", Type: r.Type, TTL: int64(r.TTL)})
		}
		v := r.Data
		if r.Type == "TXT" {
			v = r53Quote(v)
		}
		out[i].Values = append(out[i].Values, r53RR{Value: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := zoneKey(out[i].Name), zoneKey(out[j].Name); a != b {
			return a < b
		}
		return out[i].Type < out[j].Type
	})
	return out
}

func (f *Route53) sets(zone string) []r53Set {
	return setsOf(f.Store.Records(zone))
}

func (f *Route53) listSets(w http.ResponseWriter, r *http.Request) {
	z, ok := f.zone(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	max, ok := maxItems(q, r53Max)
	if !ok {
		r53Error(w, http.StatusBadRequest, "Sender", "InvalidInput", "Invalid maxitems")
		return
	}
	name, typ := Norm(q.Get("name")), strings.ToUpper(q.Get("type"))
	if typ != "" && name == "" {
		r53Error(w, http.StatusBadRequest, "Sender", "InvalidInput", "The input is not valid: the type can be specified only with a name.")
		return
	}
	type resp struct {
		XMLName     xml.Name `xml:"ListResourceRecordSetsResponse"`
		NS          string   `xml:"xmlns,attr"`
		Sets        []r53Set `xml:"ResourceRecordSets>ResourceRecordSet"`
		IsTruncated bool     `xml:"IsTruncated"`
		NextName    string   `xml:"NextRecordName,omitempty"`
		NextType    string   `xml:"NextRecordType,omitempty"`
		MaxItems    int      `xml:"MaxItems"`
	}
	out := resp{NS: r53NS, MaxItems: max, Sets: []r53Set{}}
	for _, s := range f.sets(z) {
		if name != "" {
			k, sk := zoneKey(name), zoneKey(s.Name)
			if sk < k || (sk == k && typ != "" && s.Type < typ) {
				continue
			}
		}
		if len(out.Sets) == max {
			out.IsTruncated, out.NextName, out.NextType = true, s.Name, s.Type
			break
		}
		out.Sets = append(out.Sets, s)
	}
	writeXML(w, http.StatusOK, out)
}

type r53ChangeRequest struct {
	Changes []struct {
		Action string `xml:"Action"`
		Set    struct {
			Name          string   `xml:"Name"`
			Type          string   `xml:"Type"`
			TTL           *int64   `xml:"TTL"`
			SetIdentifier string   `xml:"SetIdentifier"`
			Values        []string `xml:"ResourceRecords>ResourceRecord>Value"`
		} `xml:"ResourceRecordSet"`
	} `xml:"ChangeBatch>Changes>Change"`
	Comment string `xml:"ChangeBatch>Comment"`
}

type r53ChangeInfo struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
	Comment     string `xml:"Comment,omitempty"`
}

// errInvalidChangeBatch carries Route 53's messages for a refused batch.
type errInvalidChangeBatch []string

func (e errInvalidChangeBatch) Error() string { return strings.Join(e, "; ") }

func (f *Route53) changeSets(w http.ResponseWriter, r *http.Request) {
	z, ok := f.zone(w, r)
	if !ok {
		return
	}
	var in r53ChangeRequest
	if err := xml.NewDecoder(r.Body).Decode(&in); err != nil {
		r53Error(w, http.StatusBadRequest, "Sender", "InvalidInput", "Could not parse the request: "+err.Error())
		return
	}
	if len(in.Changes) == 0 {
		r53Error(w, http.StatusBadRequest, "Sender", "InvalidInput", "1 validation error detected: Value '[]' at 'changeBatch.changes' failed to satisfy constraint: Member must have length greater than or equal to 1")
		return
	}
	err := f.Store.Update(r.Context(), z, func(recs []Record) ([]Record, error) {
		var msgs errInvalidChangeBatch
		for _, c := range in.Changes {
			s := c.Set
			name, typ := Norm(s.Name), strings.ToUpper(s.Type)
			desc := fmt.Sprintf("[name='%s.', type='%s']", name, typ)
			if s.SetIdentifier != "" {
				msgs = append(msgs, "the fake Route 53 supports no routing policies (SetIdentifier "+s.SetIdentifier+")")
				continue
			}
			if name != z && !strings.HasSuffix(name, "."+z) {
				msgs = append(msgs, fmt.Sprintf("RRSet with DNS name %s. is not permitted in zone %s.", name, z))
				continue
			}
			if s.TTL == nil || len(s.Values) == 0 {
				msgs = append(msgs, "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with "+desc)
				continue
			}
			var data []string
			for _, v := range s.Values {
				if typ == "TXT" {
					u, ok := r53Unquote(v)
					if !ok {
						msgs = append(msgs, fmt.Sprintf("Invalid Resource Record: 'FATAL problem: InvalidCharacterString (Value should be enclosed in quotation marks) encountered with '%s''", v))
						continue
					}
					v = u
				}
				data = append(data, v)
			}
			var cur []Record
			rest := recs[:0:0]
			for _, rec := range recs {
				if rec.Name == name && rec.Type == typ {
					cur = append(cur, rec)
				} else {
					rest = append(rest, rec)
				}
			}
			var curData []string
			for _, rec := range cur {
				curData = append(curData, rec.Data)
			}
			add := func() {
				for _, d := range data {
					rest = append(rest, Record{Zone: z, Type: typ, Name: name, Data: d, TTL: int(*s.TTL)})
				}
			}
			switch c.Action {
			case "CREATE":
				if len(cur) > 0 {
					msgs = append(msgs, "Tried to create resource record set "+desc+" but it already exists")
					continue
				}
				add()
			case "DELETE":
				if len(cur) == 0 {
					msgs = append(msgs, "Tried to delete resource record set "+desc+" but it was not found")
					continue
				}
				a, b := slices.Clone(curData), slices.Clone(data)
				slices.Sort(a)
				slices.Sort(b)
				if !slices.Equal(a, b) || int64(cur[0].TTL) != *s.TTL {
					msgs = append(msgs, "Tried to delete resource record set "+desc+" but the values provided do not match the current values")
					continue
				}
			case "UPSERT":
				add()
			default:
				msgs = append(msgs, "Invalid action "+c.Action)
				continue
			}
			recs = rest
		}
		if len(msgs) > 0 {
			return nil, msgs
		}
		return recs, nil
	})
	if icb, ok := err.(errInvalidChangeBatch); ok {
		writeXML(w, http.StatusBadRequest, struct {
			XMLName   xml.Name `xml:"InvalidChangeBatch"`
			NS        string   `xml:"xmlns,attr"`
			Messages  []string `xml:"Messages>Message"`
			RequestID string   `xml:"RequestId"`
		}{NS: r53NS, Messages: icb, RequestID: requestID()})
		return
	}
	if err != nil {
		r53Error(w, http.StatusInternalServerError, "Receiver", "InternalFailure", err.Error())
		return
	}
	f.mu.Lock()
	f.nextID++
	id := fmt.Sprintf("C%012d", f.nextID)
	if f.changes == nil {
		f.changes = map[string]bool{}
	}
	f.changes[id] = true
	f.mu.Unlock()
	writeXML(w, http.StatusOK, struct {
		XMLName xml.Name      `xml:"ChangeResourceRecordSetsResponse"`
		NS      string        `xml:"xmlns,attr"`
		Info    r53ChangeInfo `xml:"ChangeInfo"`
	}{NS: r53NS, Info: r53ChangeInfo{ID: "/change/" + id, Status: "PENDING", SubmittedAt: f.now().UTC().Format(time.RFC3339), Comment: in.Comment}})
}

func (f *Route53) getChange(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.PathValue("id"), "change/")
	f.mu.Lock()
	ok := f.changes[id]
	f.mu.Unlock()
	if !ok {
		r53Error(w, http.StatusNotFound, "Sender", "NoSuchChange", "A change with the specified change ID does not exist.")
		return
	}
	writeXML(w, http.StatusOK, struct {
		XMLName xml.Name      `xml:"GetChangeResponse"`
		NS      string        `xml:"xmlns,attr"`
		Info    r53ChangeInfo `xml:"ChangeInfo"`
	}{NS: r53NS, Info: r53ChangeInfo{ID: "/change/" + id, Status: "INSYNC", SubmittedAt: f.now().UTC().Format(time.RFC3339)}})
}
