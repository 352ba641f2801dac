package clients

import (
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/certflow/certflow/workflows/searchattr"
)

func TestCLIType(t *testing.T) {
	for typ, want := range map[enumspb.IndexedValueType]string{
		enumspb.INDEXED_VALUE_TYPE_KEYWORD:      "Keyword",
		enumspb.INDEXED_VALUE_TYPE_DATETIME:     "Datetime",
		enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST: "KeywordList",
		enumspb.INDEXED_VALUE_TYPE_TEXT:         "Text",
		enumspb.INDEXED_VALUE_TYPE_BOOL:         "Bool",
	} {
		if got := (SearchAttribute{Type: typ}).CLIType(); got != want {
			t.Errorf("CLIType(%s) = %q, want %q", typ, got, want)
		}
	}
}

// The command names every missing attribute, one line per type (the CLI takes many
// --name but one --type).
func TestCreateSearchAttributesCommand(t *testing.T) {
	var all []SearchAttribute
	for _, k := range searchattr.All {
		all = append(all, SearchAttribute{Name: k.GetName(), Type: k.GetValueType()})
	}
	got := CreateSearchAttributesCommand("prod", all)
	want := "temporal operator search-attribute create --namespace prod --name CertNamespace --name CertName --name IssuerName --name CertState --type Keyword\n" +
		"temporal operator search-attribute create --namespace prod --name NotAfter --name RenewalTime --type Datetime"
	if got != want {
		t.Errorf("command:\n%s\nwant:\n%s", got, want)
	}
}
