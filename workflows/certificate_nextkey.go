package workflows

import (
	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// The next-key Secret holds the private key of an issuance in progress until the
// certificate is written; it is deleted after the issuance, whether it succeeded or
// failed, and only ever the object this Certificate made.

// nextKeyState is what the run knows of the next-key Secret.
type nextKeyState struct {
	// madeName is the next-key Secret this issuance generated (or adopted), and madeUID
	// its UID when this run wrote it (it deletes that object only).
	madeName, madeUID string
	// deleted is the next-key Secret this run already deleted.
	deleted string
}

// made records a next-key Secret this run wrote.
func (k *nextKeyState) made(name, uid string) { k.madeName, k.madeUID, k.deleted = name, uid, "" }

// adopt records a next-key Secret that a lost task of this issuance may have left.
func (k *nextKeyState) adopt(name string) { k.made(name, "") }

// deleteNextKey deletes the next-key Secret this issuance made, unless already done.
func (c *certificateRun) deleteNextKey() error {
	k := &c.nextKey
	if k.madeName == "" || k.madeName == k.deleted {
		return nil
	}
	if err := c.deleteNextKeySecret(k.madeName, k.madeUID); err != nil {
		return err
	}
	k.deleted = k.madeName
	return nil
}

// deleteClearedNextKey deletes the next-key Secret that a status write cleared from
// the status (name; "" for none), unless this run already deleted it.
func (c *certificateRun) deleteClearedNextKey(name string) error {
	if name == "" || name == c.nextKey.deleted {
		return nil
	}
	if err := c.deleteNextKeySecret(name, ""); err != nil {
		return err
	}
	c.nextKey.deleted = name
	return nil
}

// deleteNextKeySecret deletes exactly the object this run wrote (uid), or else
// whatever has the name, if it carries the next-key label and this Certificate as
// owner; a Secret of someone else's under that name stays.
func (c *certificateRun) deleteNextKeySecret(name, uid string) error {
	in := keys.DeleteKeyInput{Namespace: c.st.Namespace, SecretName: name, UID: uid}
	if uid == "" {
		in.Labels = map[string]string{cmapi.IsNextPrivateKeySecretLabelKey: "true"}
		in.OwnerUID = c.st.UID
	}
	return step(c.ctx, kubeStep, "delete the next-key Secret "+name, actDeletePrivateKeySecret, in).Get(c.ctx, nil)
}
