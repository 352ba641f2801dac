package clients

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/certflow/certflow/workflows/searchattr"
)

// MissingSearchAttributes lists the search attributes of searchattr.All
// that namespace lacks, by name and type, in the keys' order. One registered with
// another type is an error: it cannot be fixed by adding it.
func MissingSearchAttributes(ctx context.Context, c client.Client, namespace string) ([]SearchAttribute, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list the search attributes of Temporal namespace %s: %w", namespace, err)
	}
	var missing []SearchAttribute
	for _, k := range searchattr.All {
		a := SearchAttribute{Name: k.GetName(), Type: k.GetValueType()}
		t, ok := resp.GetCustomAttributes()[a.Name]
		if !ok {
			t, ok = resp.GetSystemAttributes()[a.Name]
		}
		switch {
		case !ok:
			missing = append(missing, a)
		case t != a.Type:
			return nil, fmt.Errorf("Temporal namespace %s has search attribute %s of type %s; certflow needs it of type %s", namespace, a.Name, t, a.Type)
		}
	}
	return missing, nil
}

// EnsureSearchAttributes adds the search attributes namespace lacks. A server that
// refuses (a Temporal Cloud API key, or a role without the operator API) gets an error
// naming them and the command that adds them.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	missing, err := MissingSearchAttributes(ctx, c, namespace)
	if err != nil || len(missing) == 0 {
		return err
	}
	req := &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: map[string]enumspb.IndexedValueType{}}
	for _, a := range missing {
		req.SearchAttributes[a.Name] = a.Type
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, req); err != nil {
		var exists *serviceerror.AlreadyExists
		if !errors.As(err, &exists) { // another worker was first
			return fmt.Errorf("Temporal namespace %s lacks the search attributes %s and refused to add them (%w); add them once with:\n%s",
				namespace, names(missing), err, CreateSearchAttributesCommand(namespace, missing))
		}
	}
	if still, err := MissingSearchAttributes(ctx, c, namespace); err != nil || len(still) > 0 {
		return fmt.Errorf("search attributes %s of Temporal namespace %s still missing after adding them (%v)", names(still), namespace, err)
	}
	return nil
}

// SearchAttribute is one search attribute by name and type.
type SearchAttribute struct {
	Name string
	Type enumspb.IndexedValueType
}

// CLIType is the type as the temporal CLI names it (Keyword, Datetime, KeywordList...):
// the enum's own String.
func (a SearchAttribute) CLIType() string { return a.Type.String() }

// CreateSearchAttributesCommand is the temporal CLI commands that add attrs to
// namespace: one line per type, since the CLI takes many --name but one --type.
func CreateSearchAttributesCommand(namespace string, attrs []SearchAttribute) string {
	var types []string
	byType := map[string][]string{}
	for _, a := range attrs {
		t := a.CLIType()
		if _, ok := byType[t]; !ok {
			types = append(types, t)
		}
		byType[t] = append(byType[t], "--name "+a.Name)
	}
	var lines []string
	for _, t := range types {
		lines = append(lines, fmt.Sprintf("temporal operator search-attribute create --namespace %s %s --type %s", namespace, strings.Join(byType[t], " "), t))
	}
	return strings.Join(lines, "\n")
}

func names(attrs []SearchAttribute) string {
	var n []string
	for _, a := range attrs {
		n = append(n, a.Name)
	}
	slices.Sort(n)
	return strings.Join(n, ", ")
}
