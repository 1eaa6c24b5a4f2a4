/* The DSP block kernel family of a layer, from its block shape: define MUNIFY_DSP_BO, MUNIFY_DSP_BI,
 * MUNIFY_DSP_SIGN_BITS (and MUNIFY_DSP_DENSE16, MUNIFY_DSP_SCALAR) and MUNIFY_DSP_CONV (1: CONV_2D, 0:
 * FULLY_CONNECTED) first. The families are listed in munify_dsp_blocks_common.h. */
#ifndef MUNIFY_DSP_BLOCKS_H
#define MUNIFY_DSP_BLOCKS_H

#if !defined(MUNIFY_DSP_BO) || !defined(MUNIFY_DSP_BI) || !defined(MUNIFY_DSP_CONV)
#error "define MUNIFY_DSP_BO, MUNIFY_DSP_BI and MUNIFY_DSP_CONV before including munify_dsp_blocks.h"
#endif

#if MUNIFY_DSP_BO == 1 && MUNIFY_DSP_CONV
#include "munify_dsp_conv_blocks_1xn_s8.h"
#elif MUNIFY_DSP_BO == 1
#include "munify_dsp_fc_blocks_1xn_s8.h"
#elif MUNIFY_DSP_BO == 2 && MUNIFY_DSP_BI <= 8
#include "munify_dsp_matrix_blocks_2xn_s8.h"
#else
#include "munify_dsp_matrix_blocks_mxn_s8.h"
#endif

#endif
