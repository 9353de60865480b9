// See shim.h. Each wrapper forwards to the pointer that ltf_open resolved; the Go side calls
// ltf_open once, before any other function here.
#include "shim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define LTF_FUNCS(X)                                                                         \
  X(TF_Version) X(TF_NewStatus) X(TF_DeleteStatus) X(TF_GetCode) X(TF_Message)               \
  X(TF_NewBuffer) X(TF_NewBufferFromString) X(TF_DeleteBuffer) X(TF_AllocateTensor)          \
  X(TF_DeleteTensor) X(TF_TensorType) X(TF_NumDims) X(TF_Dim) X(TF_TensorByteSize)           \
  X(TF_TensorData) X(TF_StringInit) X(TF_StringCopy) X(TF_StringGetDataPointer)              \
  X(TF_StringGetSize) X(TF_NewGraph) X(TF_DeleteGraph) X(TF_GraphOperationByName)            \
  X(TF_GraphNextOperation) X(TF_GraphToGraphDef) X(TF_GraphGetTensorShape)                   \
  X(TF_GraphGetTensorNumDims) X(TF_NewImportGraphDefOptions)                                 \
  X(TF_DeleteImportGraphDefOptions) X(TF_ImportGraphDefOptionsSetPrefix)                     \
  X(TF_ImportGraphDefOptionsAddInputMapping)                                                 \
  X(TF_GraphImportGraphDef) X(TF_OperationName) X(TF_OperationOpType)                        \
  X(TF_OperationNumOutputs) X(TF_OperationOutputType) X(TF_OperationNumInputs)               \
  X(TF_NewOperation) X(TF_AddInput) X(TF_AddInputList) X(TF_AddControlInput) X(TF_SetDevice) \
  X(TF_SetAttrString) X(TF_SetAttrStringList) X(TF_SetAttrInt) X(TF_SetAttrIntList)          \
  X(TF_SetAttrFloat) X(TF_SetAttrFloatList) X(TF_SetAttrBool) X(TF_SetAttrType)              \
  X(TF_SetAttrTypeList) X(TF_SetAttrShape) X(TF_SetAttrTensor) X(TF_FinishOperation)         \
  X(TF_AddGradientsWithPrefix) X(TF_NewSessionOptions) X(TF_DeleteSessionOptions)            \
  X(TF_SetConfig) X(TF_NewSession) X(TF_LoadSessionFromSavedModel) X(TF_CloseSession)       \
  X(TF_DeleteSession) X(TF_SessionRun)

#define LTF_FIELD(name) __typeof__(name)* name;
static struct { LTF_FUNCS(LTF_FIELD) } fn;

char* ltf_open(const char* path) {
  void* h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (h == NULL) return strdup(dlerror());
  __typeof__(fn) t;  // filled whole before it replaces fn, so a bad library changes nothing
#define LTF_RESOLVE(name)                                                                 \
  t.name = (__typeof__(name)*)dlsym(h, #name);                                            \
  if (t.name == NULL) {                                                                   \
    char* msg = malloc(512);                                                              \
    snprintf(msg, 512, "%s does not export %s: not a TensorFlow C library", path, #name); \
    dlclose(h);                                                                           \
    return msg;                                                                           \
  }
  LTF_FUNCS(LTF_RESOLVE)
  fn = t;
  return NULL;
}

const char* ltf_Version(void) { return fn.TF_Version(); }

TF_Status* ltf_NewStatus(void) { return fn.TF_NewStatus(); }
void ltf_DeleteStatus(TF_Status* s) { fn.TF_DeleteStatus(s); }
TF_Code ltf_GetCode(const TF_Status* s) { return fn.TF_GetCode(s); }
const char* ltf_Message(const TF_Status* s) { return fn.TF_Message(s); }

TF_Buffer* ltf_NewBuffer(void) { return fn.TF_NewBuffer(); }
TF_Buffer* ltf_NewBufferFromString(const void* p, size_t n) { return fn.TF_NewBufferFromString(p, n); }
void ltf_DeleteBuffer(TF_Buffer* b) { fn.TF_DeleteBuffer(b); }

TF_Tensor* ltf_AllocateTensor(TF_DataType t, const int64_t* dims, int n, size_t len) {
  return fn.TF_AllocateTensor(t, dims, n, len);
}
void ltf_DeleteTensor(TF_Tensor* t) { fn.TF_DeleteTensor(t); }
TF_DataType ltf_TensorType(const TF_Tensor* t) { return fn.TF_TensorType(t); }
int ltf_NumDims(const TF_Tensor* t) { return fn.TF_NumDims(t); }
int64_t ltf_Dim(const TF_Tensor* t, int i) { return fn.TF_Dim(t, i); }
size_t ltf_TensorByteSize(const TF_Tensor* t) { return fn.TF_TensorByteSize(t); }
void* ltf_TensorData(const TF_Tensor* t) { return fn.TF_TensorData(t); }
void ltf_StringInit(TF_TString* t) { fn.TF_StringInit(t); }
void ltf_StringCopy(TF_TString* d, const char* s, size_t n) { fn.TF_StringCopy(d, s, n); }
const char* ltf_StringGetDataPointer(const TF_TString* t) { return fn.TF_StringGetDataPointer(t); }
size_t ltf_StringGetSize(const TF_TString* t) { return fn.TF_StringGetSize(t); }

TF_Graph* ltf_NewGraph(void) { return fn.TF_NewGraph(); }
void ltf_DeleteGraph(TF_Graph* g) { fn.TF_DeleteGraph(g); }
TF_Operation* ltf_GraphOperationByName(TF_Graph* g, const char* n) { return fn.TF_GraphOperationByName(g, n); }
TF_Operation* ltf_GraphNextOperation(TF_Graph* g, size_t* pos) { return fn.TF_GraphNextOperation(g, pos); }
void ltf_GraphToGraphDef(TF_Graph* g, TF_Buffer* out, TF_Status* s) { fn.TF_GraphToGraphDef(g, out, s); }
void ltf_GraphGetTensorShape(TF_Graph* g, TF_Output o, int64_t* d, int n, TF_Status* s) {
  fn.TF_GraphGetTensorShape(g, o, d, n, s);
}
int ltf_GraphGetTensorNumDims(TF_Graph* g, TF_Output o, TF_Status* s) { return fn.TF_GraphGetTensorNumDims(g, o, s); }
TF_ImportGraphDefOptions* ltf_NewImportGraphDefOptions(void) { return fn.TF_NewImportGraphDefOptions(); }
void ltf_DeleteImportGraphDefOptions(TF_ImportGraphDefOptions* o) { fn.TF_DeleteImportGraphDefOptions(o); }
void ltf_ImportGraphDefOptionsSetPrefix(TF_ImportGraphDefOptions* o, const char* p) {
  fn.TF_ImportGraphDefOptionsSetPrefix(o, p);
}
void ltf_ImportGraphDefOptionsAddInputMapping(TF_ImportGraphDefOptions* o, const char* src, int i, TF_Output dst) {
  fn.TF_ImportGraphDefOptionsAddInputMapping(o, src, i, dst);
}
void ltf_GraphImportGraphDef(TF_Graph* g, const TF_Buffer* d, const TF_ImportGraphDefOptions* o, TF_Status* s) {
  fn.TF_GraphImportGraphDef(g, d, o, s);
}

const char* ltf_OperationName(TF_Operation* op) { return fn.TF_OperationName(op); }
const char* ltf_OperationOpType(TF_Operation* op) { return fn.TF_OperationOpType(op); }
int ltf_OperationNumOutputs(TF_Operation* op) { return fn.TF_OperationNumOutputs(op); }
TF_DataType ltf_OperationOutputType(TF_Output o) { return fn.TF_OperationOutputType(o); }
int ltf_OperationNumInputs(TF_Operation* op) { return fn.TF_OperationNumInputs(op); }

TF_OperationDescription* ltf_NewOperation(TF_Graph* g, const char* t, const char* n) { return fn.TF_NewOperation(g, t, n); }
void ltf_AddInput(TF_OperationDescription* d, TF_Output in) { fn.TF_AddInput(d, in); }
void ltf_AddInputList(TF_OperationDescription* d, const TF_Output* in, int n) { fn.TF_AddInputList(d, in, n); }
void ltf_AddControlInput(TF_OperationDescription* d, TF_Operation* op) { fn.TF_AddControlInput(d, op); }
void ltf_SetDevice(TF_OperationDescription* d, const char* dev) { fn.TF_SetDevice(d, dev); }
void ltf_SetAttrString(TF_OperationDescription* d, const char* n, const void* v, size_t len) {
  fn.TF_SetAttrString(d, n, v, len);
}
void ltf_SetAttrStringList(TF_OperationDescription* d, const char* n, const void* const* v, const size_t* l, int k) {
  fn.TF_SetAttrStringList(d, n, v, l, k);
}
void ltf_SetAttrInt(TF_OperationDescription* d, const char* n, int64_t v) { fn.TF_SetAttrInt(d, n, v); }
void ltf_SetAttrIntList(TF_OperationDescription* d, const char* n, const int64_t* v, int k) {
  fn.TF_SetAttrIntList(d, n, v, k);
}
void ltf_SetAttrFloat(TF_OperationDescription* d, const char* n, float v) { fn.TF_SetAttrFloat(d, n, v); }
void ltf_SetAttrFloatList(TF_OperationDescription* d, const char* n, const float* v, int k) {
  fn.TF_SetAttrFloatList(d, n, v, k);
}
void ltf_SetAttrBool(TF_OperationDescription* d, const char* n, unsigned char v) { fn.TF_SetAttrBool(d, n, v); }
void ltf_SetAttrType(TF_OperationDescription* d, const char* n, TF_DataType v) { fn.TF_SetAttrType(d, n, v); }
void ltf_SetAttrTypeList(TF_OperationDescription* d, const char* n, const TF_DataType* v, int k) {
  fn.TF_SetAttrTypeList(d, n, v, k);
}
void ltf_SetAttrShape(TF_OperationDescription* d, const char* n, const int64_t* dims, int k) {
  fn.TF_SetAttrShape(d, n, dims, k);
}
void ltf_SetAttrTensor(TF_OperationDescription* d, const char* n, TF_Tensor* v, TF_Status* s) {
  fn.TF_SetAttrTensor(d, n, v, s);
}
TF_Operation* ltf_FinishOperation(TF_OperationDescription* d, TF_Status* s) { return fn.TF_FinishOperation(d, s); }

void ltf_AddGradientsWithPrefix(TF_Graph* g, const char* p, TF_Output* y, int ny, TF_Output* x, int nx,
                                TF_Output* dx, TF_Status* s, TF_Output* dy) {
  fn.TF_AddGradientsWithPrefix(g, p, y, ny, x, nx, dx, s, dy);
}

TF_SessionOptions* ltf_NewSessionOptions(void) { return fn.TF_NewSessionOptions(); }
void ltf_DeleteSessionOptions(TF_SessionOptions* o) { fn.TF_DeleteSessionOptions(o); }
void ltf_SetConfig(TF_SessionOptions* o, const void* p, size_t n, TF_Status* s) { fn.TF_SetConfig(o, p, n, s); }
TF_Session* ltf_NewSession(TF_Graph* g, const TF_SessionOptions* o, TF_Status* s) { return fn.TF_NewSession(g, o, s); }
TF_Session* ltf_LoadSessionFromSavedModel(const TF_SessionOptions* o, const char* dir, const char* const* tags,
                                          int ntags, TF_Graph* g, TF_Buffer* meta, TF_Status* s) {
  return fn.TF_LoadSessionFromSavedModel(o, NULL, dir, tags, ntags, g, meta, s);
}
void ltf_CloseSession(TF_Session* sess, TF_Status* s) { fn.TF_CloseSession(sess, s); }
void ltf_DeleteSession(TF_Session* sess, TF_Status* s) { fn.TF_DeleteSession(sess, s); }
void ltf_SessionRun(TF_Session* sess, const TF_Output* in, TF_Tensor* const* v, int ni, const TF_Output* out,
                    TF_Tensor** ov, int no, const TF_Operation* const* t, int nt, TF_Status* s) {
  fn.TF_SessionRun(sess, NULL, in, v, ni, out, ov, no, t, nt, NULL, s);
}
