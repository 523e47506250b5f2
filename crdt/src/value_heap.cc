#include "crdt/value_heap.h"

#include <new>

namespace crdt {

void ValueHeap::Release(ValueHeap* h) {
  if (h == nullptr) return;
  if (h->refs_ == 0) {
    delete h;
  } else {
    h->released_ = true;
  }
}

void ValueHeap::Unref(ValueHeap* h) {
  if (h != nullptr && --h->refs_ == 0 && h->released_) delete h;
}

void* ValueHeap::NewRun(size_t cls) {
  if (chunk_left_ == 0) {
    chunk_next_ = static_cast<char*>(arena_.Allocate(kChunkBytes));
    chunk_left_ = kChunkBytes / kRunBytes;
  }
  char* run = chunk_next_;
  chunk_next_ += kRunBytes;
  --chunk_left_;
  Class& c = classes_[cls];
  c.next = run + kClassBytes[cls];
  c.left = kRunBytes / kClassBytes[cls] - 1;
  return run;
}

}  // namespace crdt
