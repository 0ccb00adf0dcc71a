package api

// NamespaceDefault is the namespace of an object that names none, as in
// Kubernetes.
const NamespaceDefault = "default"

// NamespaceOr returns ns, or NamespaceDefault when ns is empty: entries
// and requests made before namespaces existed, or by a client that names
// none, mean the default namespace.
func NamespaceOr(ns string) string {
	if ns == "" {
		return NamespaceDefault
	}
	return ns
}

// NamespaceOf is the namespace of an object's metadata.
func NamespaceOf(meta *ObjectMeta) string { return NamespaceOr(meta.GetNamespace()) }

// Key is how the store names a namespaced object: "namespace/name". Names
// cannot hold a slash, so keys of different namespaces never collide.
func Key(namespace, name string) string { return NamespaceOr(namespace) + "/" + name }

// KeyOf is the store key of an object's metadata.
func KeyOf(meta *ObjectMeta) string { return Key(meta.GetNamespace(), meta.GetName()) }
