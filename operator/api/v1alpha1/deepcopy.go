package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Deep copies, written by hand (the types are small); TestDeepCopyIsDeep checks that
// no copy shares memory with its original.

func copyConditions(in []metav1.Condition) []metav1.Condition {
	if in == nil {
		return nil
	}
	out := make([]metav1.Condition, len(in))
	for i := range in {
		in[i].DeepCopyInto(&out[i])
	}
	return out
}

func copyStrings(in []string) []string {
	if in == nil {
		return nil
	}
	return append([]string(nil), in...)
}

// DeepCopyInto copies b into out.
func (b *Broker) DeepCopyInto(out *Broker) {
	*out = *b
	out.TypeMeta = b.TypeMeta
	b.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec = b.Spec
	out.Status = b.Status
	if b.Status.LastSeen != nil {
		out.Status.LastSeen = b.Status.LastSeen.DeepCopy()
	}
	out.Status.Conditions = copyConditions(b.Status.Conditions)
}

// DeepCopy copies b.
func (b *Broker) DeepCopy() *Broker {
	if b == nil {
		return nil
	}
	out := new(Broker)
	b.DeepCopyInto(out)
	return out
}

// DeepCopyObject copies b.
func (b *Broker) DeepCopyObject() runtime.Object { return b.DeepCopy() }

// DeepCopyInto copies l into out.
func (l *BrokerList) DeepCopyInto(out *BrokerList) {
	*out = *l
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]Broker, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy copies l.
func (l *BrokerList) DeepCopy() *BrokerList {
	if l == nil {
		return nil
	}
	out := new(BrokerList)
	l.DeepCopyInto(out)
	return out
}

// DeepCopyObject copies l.
func (l *BrokerList) DeepCopyObject() runtime.Object { return l.DeepCopy() }

// DeepCopyInto copies s into out.
func (s *MeshSyncScope) DeepCopyInto(out *MeshSyncScope) {
	out.IncludeKinds = copyStrings(s.IncludeKinds)
	out.ExcludeKinds = copyStrings(s.ExcludeKinds)
	out.IncludeNamespaces = copyStrings(s.IncludeNamespaces)
	out.ExcludeNamespaces = copyStrings(s.ExcludeNamespaces)
	out.FullKinds = copyStrings(s.FullKinds)
}

// DeepCopyInto copies m into out.
func (m *MeshSync) DeepCopyInto(out *MeshSync) {
	*out = *m
	m.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	m.Spec.Scope.DeepCopyInto(&out.Spec.Scope)
	if m.Status.LastEvent != nil {
		out.Status.LastEvent = m.Status.LastEvent.DeepCopy()
	}
	out.Status.Conditions = copyConditions(m.Status.Conditions)
}

// DeepCopy copies m.
func (m *MeshSync) DeepCopy() *MeshSync {
	if m == nil {
		return nil
	}
	out := new(MeshSync)
	m.DeepCopyInto(out)
	return out
}

// DeepCopyObject copies m.
func (m *MeshSync) DeepCopyObject() runtime.Object { return m.DeepCopy() }

// DeepCopyInto copies l into out.
func (l *MeshSyncList) DeepCopyInto(out *MeshSyncList) {
	*out = *l
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]MeshSync, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy copies l.
func (l *MeshSyncList) DeepCopy() *MeshSyncList {
	if l == nil {
		return nil
	}
	out := new(MeshSyncList)
	l.DeepCopyInto(out)
	return out
}

// DeepCopyObject copies l.
func (l *MeshSyncList) DeepCopyObject() runtime.Object { return l.DeepCopy() }

// DeepCopyStatus copies a Broker's status.
func (s *BrokerStatus) DeepCopyStatus() *BrokerStatus {
	b := Broker{Status: *s}
	return &b.DeepCopy().Status
}

// DeepCopyStatus copies a MeshSync's status.
func (s *MeshSyncStatus) DeepCopyStatus() *MeshSyncStatus {
	m := MeshSync{Status: *s}
	return &m.DeepCopy().Status
}
