package cluster

import (
	"encoding/base64"
	"fmt"

	"github.com/jobcluster/jobcluster/api"
)

// listPage gathers one page of a List: the items whose keys sort after
// the request's continue token, up to its limit. Items are offered in the
// order of their keys (their store index's), so that the token, the key
// of a page's last item, is where the next page starts on any server and
// in any later state.
type listPage struct {
	limit int64
	after string
	items []*api.Object
	last  string
	more  bool
}

// newListPage reads a request's limit and continue token.
func newListPage(limit int64, token string) (*listPage, error) {
	if limit < 0 {
		return nil, fmt.Errorf("limit: %d is negative; give 0 for every item or a positive page size", limit)
	}
	p := &listPage{limit: limit}
	if token != "" {
		key, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf("continue: %q is not a token a list answered; list again without it", token)
		}
		p.after = string(key)
	}
	return p, nil
}

// skip says whether an item of this key belongs to an earlier page.
// Lists that seek to the token themselves never offer one.
func (p *listPage) skip(key string) bool { return p.after != "" && key <= p.after }

// add takes the item unless the page is full; it returns false once an
// item beyond the page was offered, which tells the list to stop.
func (p *listPage) add(key string, o *api.Object) bool {
	if p.skip(key) {
		return true
	}
	if p.limit > 0 && int64(len(p.items)) == p.limit {
		p.more = true
		return false
	}
	p.items = append(p.items, o)
	p.last = key
	return true
}

// token is the continue token of the answer: empty when no item follows.
func (p *listPage) token() string {
	if !p.more {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(p.last))
}
