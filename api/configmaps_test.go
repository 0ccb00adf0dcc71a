package api

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

func TestDecodeConfigMapsAndSecrets(t *testing.T) {
	objs, err := DecodeManifests([]byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: app.config}
data:
  greeting: hello
  settings.ini: "a=1\n"
---
apiVersion: v1
kind: Secret
metadata: {name: db}
data:
  user: YWRtaW4=
stringData:
  password: s3cret
`))
	if err != nil {
		t.Fatal(err)
	}
	cm, s := objs[0].GetConfigMap(), objs[1].GetSecret()
	if cm.GetData()["greeting"] != "hello" || cm.GetKind() != "ConfigMap" {
		t.Errorf("configmap = %v", cm)
	}
	if string(s.GetData()["user"]) != "admin" || string(s.GetData()["password"]) != "s3cret" || len(s.GetStringData()) != 0 || s.GetType() != "Opaque" {
		t.Errorf("secret = %v, want data user=admin and password merged from stringData, type Opaque", s)
	}
	if j, err := MarshalJSON(s); err != nil || !strings.Contains(string(j), `"password": "czNjcmV0"`) {
		t.Errorf("secret JSON %s (%v), want data base64-encoded as Kubernetes prints it", j, err)
	}

	for _, tt := range []struct{ name, manifest, want string }{
		{"bad key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {\"a b\": x}\n", "data[a b]: Invalid value: \"a b\": a valid config key"},
		{"bad base64", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: \"!!\"}\n", "data[k]: Invalid value: \"<value omitted>\": illegal base64 data"},
		{"bad name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n", "metadata.name: Invalid value: \"Bad_Name\""},
		{"key in data and binaryData", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: x}\nbinaryData: {k: eA==}\n", "duplicate of key present in binaryData"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeManifests([]byte(tt.manifest)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestUpdateImmutableConfig(t *testing.T) {
	old := &ConfigMap{Metadata: &ObjectMeta{Name: "c"}, Data: map[string]string{"k": "1"}, Immutable: proto.Bool(true)}
	if _, _, err := UpdateConfigMap(old, &ConfigMap{Metadata: &ObjectMeta{Name: "c"}, Data: map[string]string{"k": "2"}, Immutable: proto.Bool(true)}); err == nil {
		t.Error("an immutable ConfigMap's data changed")
	}
	if _, changed, err := UpdateConfigMap(old, &ConfigMap{Metadata: &ObjectMeta{Name: "c", Labels: map[string]string{"a": "b"}}, Data: map[string]string{"k": "1"}, Immutable: proto.Bool(true)}); err != nil || !changed {
		t.Errorf("relabelling an immutable ConfigMap: changed %v, err %v; want a change", changed, err)
	}
	sec := &Secret{Metadata: &ObjectMeta{Name: "s"}, Type: "Opaque", Data: map[string][]byte{"k": []byte("1")}}
	if _, _, err := UpdateSecret(sec, &Secret{Metadata: &ObjectMeta{Name: "s"}, Type: "kubernetes.io/tls"}); err == nil {
		t.Error("a Secret's type changed")
	}
	if got, changed, err := UpdateSecret(sec, &Secret{Metadata: &ObjectMeta{Name: "s"}, StringData: map[string]string{"k": "2"}}); err != nil || !changed || string(got.GetData()["k"]) != "2" {
		t.Errorf("update a Secret through stringData: %v %v %v", got, changed, err)
	}
}
