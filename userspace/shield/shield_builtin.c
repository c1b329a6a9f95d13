// SPDX-License-Identifier: Apache-2.0
/* The pattern files of config/shield embedded in the binary (NUL-terminated), the fallback
 * when neither shield.patterns_dir nor <exe dir>/../config/shield gives them. The Makefile
 * rebuilds this object whenever a pattern file changes. */

#define HW_EMBED(sym, file)                                                                  \
	__asm__(".section .rodata\n"                                                         \
		".global " #sym "\n"                                                         \
		".type " #sym ", @object\n" #sym ":\n"                                       \
		".incbin \"config/shield/" file "\"\n"                                       \
		".byte 0\n"                                                                  \
		".previous\n")

HW_EMBED(hw_shield_builtin_prompt_injection, "prompt_injection.txt");
HW_EMBED(hw_shield_builtin_prompt_extraction, "prompt_extraction.txt");
HW_EMBED(hw_shield_builtin_jailbreak, "jailbreak.txt");
HW_EMBED(hw_shield_builtin_pii, "pii.txt");
HW_EMBED(hw_shield_builtin_secrets, "secrets.txt");
