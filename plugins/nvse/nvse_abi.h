/* The NVSE plugin interface, in C, as xNVSE 6.4 lays it out
 * (nvse/nvse/PluginAPI.h, CommandTable.h; see the facts gathered in
 * shared/research/fnv-nvse.md): only what the plugin uses, every offset
 * checked against the i686 layout the game's NVSE has. */
#ifndef REHEAP_NVSE_ABI_H
#define REHEAP_NVSE_ABI_H

#include <stddef.h>
#include <stdint.h>

#define NVSE_RUNTIME_1_4_0_525 0x040020D0u
#define NVSE_PLUGIN_INFO_VERSION 1u
#define NVSE_INTERFACE_CONSOLE 1u
#define NVSE_INTERFACE_MESSAGING 2u
#define NVSE_OPCODE_DEVELOPMENT 0x2000u /* accepted for development; a release asks for a range */

typedef struct nvse_plugin_info {
  uint32_t info_version;
  const char *name;
  uint32_t version;
} nvse_plugin_info_t;

typedef struct nvse_param_info {
  const char *type_str;
  uint32_t type_id;
  uint32_t is_optional;
} nvse_param_info_t;

/* Cmd_Execute: the arguments NVSE passes every command, cdecl; the result
 * goes in *result, and false fails the calling script. */
typedef _Bool (*nvse_cmd_execute_t)(nvse_param_info_t *params, void *script_data, void *this_obj,
                                    void *containing_obj, void *script, void *event_list, double *result,
                                    uint32_t *opcode_offset);

typedef struct nvse_command_info {
  const char *long_name;
  const char *short_name;
  uint32_t opcode;
  const char *help;
  uint16_t needs_parent;
  uint16_t num_params;
  nvse_param_info_t *params;
  nvse_cmd_execute_t execute;
  void *parse;
  void *eval;
  uint32_t flags;
} nvse_command_info_t;

typedef struct nvse_interface {
  uint32_t nvse_version;
  uint32_t runtime_version;
  uint32_t editor_version;
  uint32_t is_editor;
  _Bool (*register_command)(nvse_command_info_t *info);
  void (*set_opcode_base)(uint32_t opcode);
  void *(*query_interface)(uint32_t id);
  uint32_t (*get_plugin_handle)(void);
  _Bool (*register_typed_command)(nvse_command_info_t *info, uint32_t return_type);
  const char *(*get_runtime_directory)(void);
  uint32_t is_nogore;
  void *init_expression_evaluator_utils;
  void *register_typed_command_version;
} nvse_interface_t;

typedef struct nvse_console_interface {
  uint32_t version;
  _Bool (*run_script_line)(const char *text, void *obj);
  _Bool (*run_script_line2)(const char *text, void *obj, _Bool suppress_output);
} nvse_console_interface_t;

#if defined(__i386__)
/* the game's NVSE is 32-bit: these are its sizes and offsets */
_Static_assert(sizeof(nvse_plugin_info_t) == 0x0C, "PluginInfo");
_Static_assert(offsetof(nvse_plugin_info_t, version) == 0x08, "PluginInfo.version");
_Static_assert(sizeof(nvse_param_info_t) == 12, "ParamInfo");
_Static_assert(sizeof(nvse_command_info_t) == 0x28, "CommandInfo");
_Static_assert(offsetof(nvse_command_info_t, opcode) == 0x08, "CommandInfo.opcode");
_Static_assert(offsetof(nvse_command_info_t, needs_parent) == 0x10, "CommandInfo.needsParent");
_Static_assert(offsetof(nvse_command_info_t, num_params) == 0x12, "CommandInfo.numParams");
_Static_assert(offsetof(nvse_command_info_t, execute) == 0x18, "CommandInfo.execute");
_Static_assert(offsetof(nvse_command_info_t, flags) == 0x24, "CommandInfo.flags");
_Static_assert(sizeof(nvse_interface_t) == 0x34, "NVSEInterface");
_Static_assert(offsetof(nvse_interface_t, is_editor) == 0x0C, "NVSEInterface.isEditor");
_Static_assert(offsetof(nvse_interface_t, register_command) == 0x10, "NVSEInterface.RegisterCommand");
_Static_assert(offsetof(nvse_interface_t, set_opcode_base) == 0x14, "NVSEInterface.SetOpcodeBase");
_Static_assert(offsetof(nvse_interface_t, query_interface) == 0x18, "NVSEInterface.QueryInterface");
_Static_assert(offsetof(nvse_interface_t, get_runtime_directory) == 0x24, "NVSEInterface.GetRuntimeDirectory");
_Static_assert(offsetof(nvse_interface_t, is_nogore) == 0x28, "NVSEInterface.isNogore");
_Static_assert(sizeof(nvse_console_interface_t) == 12, "NVSEConsoleInterface");
_Static_assert(sizeof(_Bool) == 1, "bool is one byte, returned in AL");
#endif

#endif
