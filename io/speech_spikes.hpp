// Spoken digits through a model cochlea (`elmsim gen-shd --kind speech`): spike trains with the
// temporal structure of the real SHD set — dense, pitch-synchronous bursts, onsets, drifting formant
// bands, noise bursts of fricatives and plosives, sub-millisecond jitter, words of varying length — in
// the SHD layout (700 channels, 20 classes: English "zero".."nine", German "null".."neun").
//
// How a sample is made:
//  - A word is its phones (zero = z i r ou, sieben = z i b e n, ...), from one inventory of vowels,
//    diphthongs, nasals, liquids, fricatives and plosives with textbook formant frequencies
//    (F1 F2 F3) and noise bands. Words share phones, so a class shows in the order of its sounds.
//  - The cochlea: channel c has the characteristic frequency 100 Hz * 80^(c / 699) (100 Hz - 8 kHz,
//    log-spaced), and a travelling-wave delay that grows towards the low channels (up to 1.5 ms).
//  - Voiced sounds: a glottal pulse train at the speaker's pitch (F0 with a falling contour); at each
//    pulse the channels around each formant fire with a probability that falls off over the band,
//    phase-locked to the pulse (jitter 0.15 ms) below 3 kHz and at random within the pulse period
//    above. Formants glide from one phone's values to the next (coarticulation, diphthongs).
//  - Fricatives are Poisson noise over their band; plosives a closure (silence) and then a 3 ms burst.
//  - Onsets: auditory-nerve adaptation makes each rise in loudness fire up to 3x for ~8 ms.
//  - Every channel fires spontaneously (2 Hz); a channel does not fire twice within 1 ms.
//  - Speakers differ in vocal-tract length (formants x 0.85 - 1.15), pitch (95 - 240 Hz), speaking
//    rate and loudness; each sample in its timing (every phone 0.8 - 1.2 x) and onset (20 - 80 ms).
// About 3,600 - 13,800 spikes per sample (median ~7,000; real SHD: ~8k); words of 0.15 - 0.75 s of
// dense activity. Deterministic for a seed (elm::Rng).
#pragma once

#include <cstdint>

#include "elmsim/io/spike_dataset.hpp"

namespace elm::io {

struct SpeechSpikeOptions {
    int num_speakers = 12;        // as in SHD
    double density = 1.4;         // scales every firing probability and rate (spontaneous firing aside)
    double jitter_ms = 0.15;      // s.d. of the phase-locking jitter
    double spontaneous_hz = 2.0;  // per channel
};

// `samples` >= 0 samples; labels balanced (counts differ by at most one) and shuffled.
SpikeDataset generate_spoken_digits(std::int64_t samples, std::uint64_t seed, const SpeechSpikeOptions& options = {});

}  // namespace elm::io
