// The one C shim of package tf: it loads the TensorFlow C library with dlopen at run time and
// forwards each C API call lessdata uses through a function pointer. Loading at run time (not
// linking) lets lessdata start without TensorFlow, and say how to install it when it is missing.
#ifndef LESSDATA_TF_SHIM_H
#define LESSDATA_TF_SHIM_H

#include <stdint.h>
#include <stdlib.h>
#include <tensorflow/c/c_api.h>

// ltf_open loads the library at path (a file name searched by the dynamic loader, or a path).
// It returns NULL on success, or a malloc'ed message the caller frees.
char* ltf_open(const char* path);

const char* ltf_Version(void);

TF_Status* ltf_NewStatus(void);
void ltf_DeleteStatus(TF_Status* s);
TF_Code ltf_GetCode(const TF_Status* s);
const char* ltf_Message(const TF_Status* s);

TF_Buffer* ltf_NewBuffer(void);
TF_Buffer* ltf_NewBufferFromString(const void* proto, size_t len);
void ltf_DeleteBuffer(TF_Buffer* b);

TF_Tensor* ltf_AllocateTensor(TF_DataType t, const int64_t* dims, int ndims, size_t len);
void ltf_DeleteTensor(TF_Tensor* t);
TF_DataType ltf_TensorType(const TF_Tensor* t);
int ltf_NumDims(const TF_Tensor* t);
int64_t ltf_Dim(const TF_Tensor* t, int i);
size_t ltf_TensorByteSize(const TF_Tensor* t);
void* ltf_TensorData(const TF_Tensor* t);
void ltf_StringInit(TF_TString* t);
void ltf_StringCopy(TF_TString* dst, const char* src, size_t size);
const char* ltf_StringGetDataPointer(const TF_TString* t);
size_t ltf_StringGetSize(const TF_TString* t);

TF_Graph* ltf_NewGraph(void);
void ltf_DeleteGraph(TF_Graph* g);
TF_Operation* ltf_GraphOperationByName(TF_Graph* g, const char* name);
TF_Operation* ltf_GraphNextOperation(TF_Graph* g, size_t* pos);
void ltf_GraphToGraphDef(TF_Graph* g, TF_Buffer* out, TF_Status* s);
void ltf_GraphGetTensorShape(TF_Graph* g, TF_Output o, int64_t* dims, int n, TF_Status* s);
int ltf_GraphGetTensorNumDims(TF_Graph* g, TF_Output o, TF_Status* s);
TF_ImportGraphDefOptions* ltf_NewImportGraphDefOptions(void);
void ltf_DeleteImportGraphDefOptions(TF_ImportGraphDefOptions* o);
void ltf_ImportGraphDefOptionsSetPrefix(TF_ImportGraphDefOptions* o, const char* prefix);
void ltf_ImportGraphDefOptionsAddInputMapping(TF_ImportGraphDefOptions* o, const char* src, int i, TF_Output dst);
void ltf_GraphImportGraphDef(TF_Graph* g, const TF_Buffer* def, const TF_ImportGraphDefOptions* o, TF_Status* s);

const char* ltf_OperationName(TF_Operation* op);
const char* ltf_OperationOpType(TF_Operation* op);
int ltf_OperationNumOutputs(TF_Operation* op);
TF_DataType ltf_OperationOutputType(TF_Output o);
int ltf_OperationNumInputs(TF_Operation* op);

TF_OperationDescription* ltf_NewOperation(TF_Graph* g, const char* type, const char* name);
void ltf_AddInput(TF_OperationDescription* d, TF_Output in);
void ltf_AddInputList(TF_OperationDescription* d, const TF_Output* in, int n);
void ltf_AddControlInput(TF_OperationDescription* d, TF_Operation* op);
void ltf_SetDevice(TF_OperationDescription* d, const char* device);
void ltf_SetAttrString(TF_OperationDescription* d, const char* name, const void* v, size_t len);
void ltf_SetAttrStringList(TF_OperationDescription* d, const char* name, const void* const* v, const size_t* lens, int n);
void ltf_SetAttrInt(TF_OperationDescription* d, const char* name, int64_t v);
void ltf_SetAttrIntList(TF_OperationDescription* d, const char* name, const int64_t* v, int n);
void ltf_SetAttrFloat(TF_OperationDescription* d, const char* name, float v);
void ltf_SetAttrFloatList(TF_OperationDescription* d, const char* name, const float* v, int n);
void ltf_SetAttrBool(TF_OperationDescription* d, const char* name, unsigned char v);
void ltf_SetAttrType(TF_OperationDescription* d, const char* name, TF_DataType v);
void ltf_SetAttrTypeList(TF_OperationDescription* d, const char* name, const TF_DataType* v, int n);
void ltf_SetAttrShape(TF_OperationDescription* d, const char* name, const int64_t* dims, int n);
void ltf_SetAttrTensor(TF_OperationDescription* d, const char* name, TF_Tensor* v, TF_Status* s);
TF_Operation* ltf_FinishOperation(TF_OperationDescription* d, TF_Status* s);

void ltf_AddGradientsWithPrefix(TF_Graph* g, const char* prefix, TF_Output* y, int ny, TF_Output* x, int nx, TF_Output* dx, TF_Status* s, TF_Output* dy);

TF_SessionOptions* ltf_NewSessionOptions(void);
void ltf_DeleteSessionOptions(TF_SessionOptions* o);
void ltf_SetConfig(TF_SessionOptions* o, const void* proto, size_t len, TF_Status* s);
TF_Session* ltf_NewSession(TF_Graph* g, const TF_SessionOptions* o, TF_Status* s);
TF_Session* ltf_LoadSessionFromSavedModel(const TF_SessionOptions* o, const char* dir, const char* const* tags, int ntags, TF_Graph* g, TF_Buffer* meta, TF_Status* s);
void ltf_CloseSession(TF_Session* sess, TF_Status* s);
void ltf_DeleteSession(TF_Session* sess, TF_Status* s);
void ltf_SessionRun(TF_Session* sess, const TF_Output* inputs, TF_Tensor* const* values, int ninputs,
                    const TF_Output* outputs, TF_Tensor** out_values, int noutputs,
                    const TF_Operation* const* targets, int ntargets, TF_Status* s);

#endif
