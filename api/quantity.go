package api

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Resource names a pod may request.
const (
	ResourceCPU    = "cpu"
	ResourceMemory = "memory"
)

// quantityFields are string maps whose values may be written as YAML
// numbers (`cpu: 1`), as Kubernetes quantities may.
var quantityFields = map[protoreflect.FullName]bool{
	"jobcluster.v1.ResourceRequirements.requests": true,
	"jobcluster.v1.ResourceRequirements.limits":   true,
	"jobcluster.v1.NodeStatus.capacity":           true,
	"jobcluster.v1.NodeStatus.allocatable":        true,
	"jobcluster.v1.MemberMeta.capacity":           true,
}

// errQuantityFormat is Kubernetes' message for a malformed quantity.
var errQuantityFormat = errors.New("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")

// errQuantityRange is returned for quantities that do not fit in int64.
var errQuantityRange = errors.New("quantity is too large")

// maxQuantityExponent bounds "1e<N>" so that parsing stays cheap; any
// larger exponent is out of range anyway.
const maxQuantityExponent = 100

// ParseCPUMillis parses a CPU quantity into millicores: "500m" is 500,
// "1" is 1000, "0.5" is 500. Fractions of a millicore round up.
func ParseCPUMillis(q string) (int64, error) {
	n, err := resourceAmount(ResourceCPU, q)
	if err != nil {
		return 0, fmt.Errorf("parse cpu %q: %w", q, err)
	}
	return n, nil
}

// ParseBytes parses a memory quantity into bytes: "128Mi" is 134217728,
// "1G" is 1000000000. Fractions of a byte round up.
func ParseBytes(q string) (int64, error) {
	n, err := resourceAmount(ResourceMemory, q)
	if err != nil {
		return 0, fmt.Errorf("parse bytes %q: %w", q, err)
	}
	return n, nil
}

// resourceAmount returns a quantity in the unit jobcluster counts the
// resource in: millicores for cpu, whole units (bytes) otherwise.
func resourceAmount(resource, q string) (int64, error) {
	r, err := parseQuantity(q)
	if err != nil {
		return 0, err
	}
	if resource == ResourceCPU {
		r.Mul(r, big.NewRat(1000, 1))
	}
	return ceilInt64(r)
}

// PodRequests sums the containers' requests: CPU in millicores, memory in
// bytes. A quantity that does not parse counts as zero (validation reports
// it).
func PodRequests(spec *PodSpec) (cpuMillis, memBytes int64) {
	for _, c := range spec.GetContainers() {
		req := c.GetResources().GetRequests()
		if q, ok := req[ResourceCPU]; ok {
			if n, err := ParseCPUMillis(q); err == nil {
				cpuMillis += n
			}
		}
		if q, ok := req[ResourceMemory]; ok {
			if n, err := ParseBytes(q); err == nil {
				memBytes += n
			}
		}
	}
	return cpuMillis, memBytes
}

// parseQuantity returns the exact value of a quantity in Kubernetes syntax:
// a signed decimal number followed by a binary suffix (Ki..Ei), a decimal
// suffix (n, u, m, k, M, G, T, P, E) or an exponent (e3, E-2).
func parseQuantity(q string) (*big.Rat, error) {
	i := 0
	neg := false
	if i < len(q) && (q[i] == '+' || q[i] == '-') {
		neg = q[i] == '-'
		i++
	}
	mantissa := new(big.Int)
	scale := 0 // digits after the decimal point
	digits, dot := 0, false
	ten := big.NewInt(10)
	for ; i < len(q); i++ {
		c := q[i]
		if c == '.' && !dot {
			dot = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		mantissa.Mul(mantissa, ten).Add(mantissa, big.NewInt(int64(c-'0')))
		digits++
		if dot {
			scale++
		}
	}
	if digits == 0 {
		return nil, errQuantityFormat
	}
	if neg {
		mantissa.Neg(mantissa)
	}
	r := new(big.Rat).SetFrac(mantissa, new(big.Int).Exp(ten, big.NewInt(int64(scale)), nil))
	factor, err := quantitySuffix(q[i:])
	if err != nil {
		return nil, err
	}
	return r.Mul(r, factor), nil
}

// quantitySuffix returns the multiplier a suffix stands for.
func quantitySuffix(s string) (*big.Rat, error) {
	pow := func(base, exp int64) *big.Rat {
		n := new(big.Int).Exp(big.NewInt(base), big.NewInt(abs(exp)), nil)
		if exp < 0 {
			return new(big.Rat).SetFrac(big.NewInt(1), n)
		}
		return new(big.Rat).SetInt(n)
	}
	switch s {
	case "":
		return pow(10, 0), nil
	case "Ki", "Mi", "Gi", "Ti", "Pi", "Ei":
		return pow(2, 10*int64(1+strings.IndexByte("KMGTPE", s[0]))), nil
	case "n":
		return pow(10, -9), nil
	case "u":
		return pow(10, -6), nil
	case "m":
		return pow(10, -3), nil
	case "k", "M", "G", "T", "P", "E":
		return pow(10, 3*int64(1+strings.IndexByte("kMGTPE", s[0]))), nil
	}
	if s[0] != 'e' && s[0] != 'E' {
		return nil, errQuantityFormat
	}
	exp, ok := parseSmallInt(s[1:])
	if !ok {
		return nil, errQuantityFormat
	}
	if abs(exp) > maxQuantityExponent {
		return nil, errQuantityRange
	}
	return pow(10, exp), nil
}

// parseSmallInt parses an optionally signed integer of at most six digits.
func parseSmallInt(s string) (int64, bool) {
	sign := int64(1)
	if s != "" && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	if s == "" || len(s) > 6 {
		return 0, false
	}
	var n int64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return sign * n, true
}

// ceilInt64 rounds r up to an integer that must fit in int64.
func ceilInt64(r *big.Rat) (int64, error) {
	q, m := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, errQuantityRange
	}
	return q.Int64(), nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// validateResources checks that only cpu and memory are given, as valid
// non-negative quantities, and that no request exceeds its limit.
func validateResources(path string, res *ResourceRequirements) []error {
	var errs fieldErrors
	amounts := map[string]map[string]int64{}
	for _, kind := range []string{"requests", "limits"} {
		values := res.GetRequests()
		if kind == "limits" {
			values = res.GetLimits()
		}
		amounts[kind] = map[string]int64{}
		for _, name := range sortedKeys(values) {
			p := fmt.Sprintf("%s.%s[%s]", path, kind, name)
			if name != ResourceCPU && name != ResourceMemory {
				errs.add(notSupported(p, name, ResourceCPU, ResourceMemory))
				continue
			}
			n, err := resourceAmount(name, values[name])
			switch {
			case err != nil:
				errs.add(invalid(p, values[name], err.Error()))
			case n < 0:
				errs.add(invalid(p, values[name], "must be greater than or equal to 0"))
			default:
				amounts[kind][name] = n
			}
		}
	}
	for _, name := range []string{ResourceCPU, ResourceMemory} {
		req, hasReq := amounts["requests"][name]
		limit, hasLimit := amounts["limits"][name]
		if hasReq && hasLimit && req > limit {
			errs.add(invalid(fmt.Sprintf("%s.requests[%s]", path, name), res.GetRequests()[name],
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, res.GetLimits()[name])))
		}
	}
	return errs
}
