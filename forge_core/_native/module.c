/* forge_core's compiled kernels as an importable extension module, so that setuptools builds
 * and installs them; forge_core/native.py reaches the kernels' functions through ctypes, not
 * through Python (lstm.c, gru.c, conv.c). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_native",
    .m_doc = "forge_core's compiled kernels (see forge_core.native).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
