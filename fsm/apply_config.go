package fsm

import (
	"fmt"

	"github.com/jobcluster/jobcluster/api"
)

func (w *writer) applyUpsertConfigMap(c *api.UpsertConfigMap) error {
	cm := clone(c.GetConfigMap())
	if unnamed(cm) {
		return fmt.Errorf("upsert configmap: %w", errNoName)
	}
	meta := cm.GetMetadata()
	if old := first[*api.ConfigMap](w.txn, tableConfigMaps, "id", api.KeyOf(meta)); old != nil {
		if c.GetCreateOnly() {
			return fmt.Errorf("configmap %q: %w", meta.GetName(), ErrAlreadyExists)
		}
		meta.Uid = old.GetMetadata().GetUid()
		meta.CreationTimestamp = old.GetMetadata().GetCreationTimestamp()
	}
	w.insert(tableConfigMaps, cm)
	return nil
}

func (w *writer) applyDeleteConfigMap(c *api.DeleteConfigMap) error {
	cm := first[*api.ConfigMap](w.txn, tableConfigMaps, "id", api.Key(c.GetNamespace(), c.GetName()))
	if cm == nil {
		return fmt.Errorf("configmap %q: %w", c.GetName(), ErrNotFound)
	}
	w.remove(tableConfigMaps, cm)
	return nil
}

func (w *writer) applyUpsertSecret(c *api.UpsertSecret) error {
	s := clone(c.GetSecret())
	if sealed := c.GetSealed(); len(sealed) > 0 {
		var err error
		if s, err = w.openSecret(sealed); err != nil {
			return err
		}
	}
	if unnamed(s) {
		return fmt.Errorf("upsert secret: %w", errNoName)
	}
	meta := s.GetMetadata()
	if old := first[*api.Secret](w.txn, tableSecrets, "id", api.KeyOf(meta)); old != nil {
		if c.GetCreateOnly() {
			return fmt.Errorf("secret %q: %w", meta.GetName(), ErrAlreadyExists)
		}
		meta.Uid = old.GetMetadata().GetUid()
		meta.CreationTimestamp = old.GetMetadata().GetCreationTimestamp()
	}
	w.insert(tableSecrets, s)
	return nil
}

func (w *writer) applyDeleteSecret(c *api.DeleteSecret) error {
	s := first[*api.Secret](w.txn, tableSecrets, "id", api.Key(c.GetNamespace(), c.GetName()))
	if s == nil {
		return fmt.Errorf("secret %q: %w", c.GetName(), ErrNotFound)
	}
	w.remove(tableSecrets, s)
	return nil
}
