"""Real recorded speech for the speech chapter: Allison Smith's Asterisk telephone prompts
(Debian ``asterisk-core-sounds-en-wav``), 8 kHz, 16-bit, one professional female US speaker.

- ``asterisk-digits``: the number words "zero" to "twenty" (21 clips), the keyword spotter's
  real test set (digits 0-9 are keywords; 10-20 are hard "unknown" words: "seventeen" begins
  with "seven"). There is no training part: the chapter trains on synthetic speech
  (:mod:`dlbook.data.speech`) and only tests here.
- ``asterisk-prompts``: 389 prompts (14.4 minutes) whose transcripts hold no number word, from
  "Activated." to "Please leave your message after the tone": keyword-free speech on which to
  count false accepts per hour.

``x_test`` is an object array of float32 waveforms in [-1, 1] at 8 kHz (lengths differ);
``x_train`` is empty.

>>> from dlbook import data
>>> d = data.load("asterisk-digits")
>>> len(d.x_test), d.class_names[7], d.x_test[7].dtype, len(d.x_train)
(21, 'seven', dtype('float32'), 0)
"""

from __future__ import annotations

import hashlib
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data._sources import ChecksumMismatch, DebianPackage, SourceUnavailable

PACKAGE = "asterisk-core-sounds-en-wav"
SOUNDS = "/usr/share/asterisk/sounds/en_US_f_Allison"
SAMPLE_RATE = 8_000
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                "seventeen", "eighteen", "nineteen", "twenty")
DIGIT_FILES = tuple(f"digits/{i}" for i in range(21))
DIGITS_SHA256 = "cd250042702e9771c46e7fc42aed62593bb235e2a6f74b3fa78b6326b4c21a6c"
# Every prompt whose transcript (core-sounds-en.txt) names no number (no "one", no "first", no
# digit), outside digits/, without tones and without the letter "o" (read "oh", a zero).
PROMPT_FILES = tuple("""
activated added agent-alreadyon agent-incorrect agent-loggedoff agent-loginok
agent-newlocation agent-pass agent-user all-circuits-busy-now astcc-followed-by-the-pound-key
at-tone-time-exactly auth-incorrect auth-thankyou call-forwarding call-fwd-no-ans
call-fwd-on-busy call-fwd-unconditional call-waiting calling cancelled
cannot-complete-as-dialed check-number-dial-again conf-enteringno conf-errormenu conf-extended
conf-full conf-getchannel conf-getconfno conf-getpin conf-hasjoin conf-hasleft conf-invalid
conf-invalidpin conf-kicked conf-leaderhasleft conf-locked conf-lockednow conf-muted
conf-noempty conf-nonextended conf-now-muted conf-now-recording conf-now-unmuted
conf-onlyperson conf-otherinparty conf-placeintoconf conf-roll-callcomplete conf-thereare
conf-unlockednow conf-unmuted conf-userswilljoin conf-userwilljoin conf-waitforleader
confbridge-begin-glorious-a confbridge-begin-glorious-b confbridge-begin-glorious-c
confbridge-begin-leader confbridge-conf-begin confbridge-conf-end confbridge-dec-list-vol-in
confbridge-dec-list-vol-out confbridge-dec-talk-vol-in confbridge-dec-talk-vol-out
confbridge-has-joined confbridge-has-left confbridge-inc-list-vol-in
confbridge-inc-list-vol-out confbridge-inc-talk-vol-in confbridge-inc-talk-vol-out
confbridge-invalid confbridge-leave-in confbridge-leave-out confbridge-lock-extended
confbridge-lock-in confbridge-lock-no-join confbridge-lock-out confbridge-locked
confbridge-menu-exit-in confbridge-menu-exit-out confbridge-mute-extended confbridge-mute-in
confbridge-mute-out confbridge-muted confbridge-only-participant confbridge-participants
confbridge-pin confbridge-pin-bad confbridge-remove-last-in confbridge-remove-last-out
confbridge-removed confbridge-rest-list-vol-in confbridge-rest-list-vol-out
confbridge-rest-talk-vol-in confbridge-rest-talk-vol-out confbridge-there-are
confbridge-unlocked confbridge-unmuted de-activated demo-abouttotry demo-congrats
demo-echodone demo-echotest demo-moreinfo demo-nogo demo-nomatch demo-thanks dictate/both_help
dictate/enter_filename dictate/pause dictate/paused dictate/playback dictate/playback_mode
dictate/record dictate/record_mode dictate/truncating_audio dir-first dir-firstlast dir-last
dir-multi1 dir-multi2 dir-multi3 dir-nomatch dir-nomore dir-pls-enter dir-welcome disabled
do-not-disturb enabled enter-num-blacklist entr-num-rmv-blklist extension
feature-not-avail-line followme/call-from followme/no-recording followme/pls-hold-while-try
followme/sorry followme/status for from-unknown-caller goodbye hello hello-world hours
if-correct-press im-sorry info-about-last-call invalid is is-in-use is-set-to letters/a
letters/ascii123 letters/ascii124 letters/ascii125 letters/ascii126 letters/ascii34
letters/ascii36 letters/ascii37 letters/ascii38 letters/ascii39 letters/ascii40
letters/ascii41 letters/ascii42 letters/ascii44 letters/ascii58 letters/ascii59
letters/ascii60 letters/ascii62 letters/ascii63 letters/ascii91 letters/ascii92
letters/ascii93 letters/ascii94 letters/ascii95 letters/ascii96 letters/asterisk letters/at
letters/b letters/c letters/d letters/dash letters/dollar letters/dot letters/e letters/equals
letters/exclaimation-point letters/f letters/g letters/h letters/i letters/j letters/k
letters/l letters/m letters/n letters/p letters/plus letters/q letters/r letters/s
letters/slash letters/space letters/t letters/u letters/v letters/w letters/x letters/y
letters/z letters/zed location lowercase minute minutes num-was-successfully number
number-not-answering pbx-invalid pbx-invalidpark pbx-parkingfailed pbx-transfer phonetic/a_p
phonetic/b_p phonetic/c_p phonetic/d_p phonetic/e_p phonetic/f_p phonetic/g_p phonetic/h_p
phonetic/i_p phonetic/j_p phonetic/k_p phonetic/l_p phonetic/m_p phonetic/n_p phonetic/o_p
phonetic/p_p phonetic/q_p phonetic/r_p phonetic/s_p phonetic/t_p phonetic/u_p phonetic/v_p
phonetic/w_p phonetic/x_p phonetic/y_p phonetic/z_p please-try-again please-try-call-later
pls-hold-while-try pm-invalid-option priv-callpending priv-introsaved priv-recordintro
privacy-incorrect privacy-prompt privacy-thankyou privacy-to-blacklist-last-caller
privacy-unident queue-callswaiting queue-holdtime queue-less-than queue-minute queue-minutes
queue-periodic-announce queue-quantity1 queue-quantity2 queue-reporthold queue-seconds
queue-thankyou queue-thereare queue-youarenext removed second seconds simul-call-limit-reached
something-terribly-wrong sorry sorry-youre-having-problems speed-dial speed-dial-empty
spy-agent spy-console spy-dahdi spy-iax spy-jingle spy-local spy-mgcp spy-misdn spy-mobile
spy-nbs spy-sip spy-skinny spy-unistim spy-usbradio spy-zap ss-noservice telephone-number time
to-call-this-number to-extension to-listen-to-it to-rerecord-it transfer tt-allbusy
tt-monkeysintro tt-somethingwrong tt-weasels unidentified-no-callback uppercase vm-Family
vm-Friends vm-INBOX vm-Old vm-Urgent vm-Work vm-and vm-changeto vm-deleted vm-dialout
vm-duration vm-enter-num-to-call vm-extension vm-first vm-for vm-from vm-from-extension
vm-from-phonenumber vm-goodbye vm-helpexit vm-incorrect vm-incorrect-mailbox vm-intro
vm-invalid-password vm-invalidpassword vm-isonphone vm-isunavail vm-last vm-login
vm-mailboxfull vm-marked-nonurgent vm-marked-urgent vm-message vm-messages vm-minutes
vm-mismatch vm-msgforwarded vm-msgsaved vm-newpassword vm-newuser vm-no vm-nobodyavail
vm-nobox vm-nomore vm-nonumber vm-num-i-have vm-passchanged vm-password vm-pls-try-again
vm-press vm-rec-busy vm-rec-name vm-rec-temp vm-rec-unv vm-received vm-record-prepend
vm-reenterpassword vm-saved vm-savedto vm-savefolder vm-sorry vm-star-cancel vm-starmain
vm-tempgreetactive vm-tempremoved vm-then-pound vm-theperson vm-tmpexists vm-tocancel
vm-tocancelmsg vm-tooshort vm-undeleted vm-unknown-caller vm-whichbox vm-youhave with
you-entered your
""".split())
PROMPTS_SHA256 = "bdbab24d0f58dfaa67ca142e36fefd59d9c1721715c5ff7a75e6402861bfb6eb"


@dataclass(frozen=True)
class AsteriskSounds(DebianPackage):
    """Named ``.wav`` prompts of the Debian package, checked by one SHA-256 over their bytes
    in order (hundreds of files: one digest, not one each)."""

    names: tuple[str, ...] = ()
    sha256: str = ""

    def fetch(self) -> list[Path]:
        root = Path(self.path)
        paths = [root / f"{name}.wav" for name in self.names]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise SourceUnavailable(
                f"{len(missing)} prompt(s) such as {missing[0]} not in {root}; {self.how_to_get()}")
        digest = hashlib.sha256()
        for path in paths:
            digest.update(path.read_bytes())
        if digest.hexdigest() != self.sha256:
            raise ChecksumMismatch(f"the prompts in {root} are not the expected recordings "
                                   f"(sha256 {digest.hexdigest()[:12]}…); {self.how_to_repair()}")
        return paths


def read_wav(path: Path | str) -> np.ndarray:
    """A 16-bit mono WAV file as float32 in [-1, 1] (its own rate; the prompts are 8 kHz)."""
    with wave.open(str(path)) as handle:
        if handle.getnchannels() != 1 or handle.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit mono audio")
        raw = handle.readframes(handle.getnframes())
    return np.frombuffer(raw, dtype="<i2").astype("float32") / 32768.0


def _waves(paths: list[Path]) -> np.ndarray:
    out = np.empty(len(paths), dtype=object)
    out[:] = [read_wav(p) for p in paths]
    return out


def _read_digits(paths: list[Path]) -> Dataset:
    return Dataset("asterisk-digits", np.empty(0, dtype=object), np.empty(0, "int64"),
                   _waves(paths), np.arange(len(paths), dtype="int64"), list(NUMBER_WORDS),
                   info=None)


def _read_prompts(paths: list[Path]) -> Dataset:
    return Dataset("asterisk-prompts", np.empty(0, dtype=object), np.empty(0, "int64"),
                   _waves(paths), np.zeros(len(paths), "int64"), ["no number word"], info=None,
                   feature_names=[str(p.relative_to(SOUNDS).with_suffix("")) for p in paths])


_LICENSE = ("CC-BY-SA-3.0 (recordings by Allison Smith, funded by Digium; Debian package "
            f"{PACKAGE})")
_CITATION = ("A. Smith (2003-2010), Asterisk core sound prompts, English (US), version 1.6.1; "
             "Digium, Inc.; Debian package asterisk-core-sounds-en-wav.")
_SOURCE = f"Debian package {PACKAGE}: {SOUNDS}"

register(DatasetInfo(
    name="asterisk-digits",
    title="Spoken numbers zero to twenty by one real speaker (Asterisk telephone prompts)",
    task="keyword spotting test set: which digit is spoken (10-20: words that are no digit)?",
    shape="x: float32 waveform in [-1, 1] at 8 kHz, 0.5-1.0 s (object array, lengths differ); "
          "y: index of the number word (0-20)",
    size="21 clips, test part only (no training part: train on synthetic speech)",
    license=_LICENSE, source=_SOURCE + "/digits/{0..20}.wav", citation=_CITATION,
    description="Allison Smith, a professional voice talent, reading the numbers 0-20 for the "
    "Asterisk PBX's spoken prompts: studio quality, a neutral US accent, clear telephone-style "
    "delivery, 8 kHz 16-bit mono. One speaker and one take per word: a test set to measure "
    "how a model trained on synthetic voices does on a real person, not to estimate accuracy "
    "on people in general.",
    sources=(AsteriskSounds(files={}, package=PACKAGE, path=SOUNDS, names=DIGIT_FILES,
                            sha256=DIGITS_SHA256),),
    reader=_read_digits,
))

register(DatasetInfo(
    name="asterisk-prompts",
    title="Asterisk telephone prompts with no number word (keyword-free real speech)",
    task="false-accept test for keyword spotting: speech in which no digit is said",
    shape="x: float32 waveform in [-1, 1] at 8 kHz, 0.3-22 s (object array); y: 0 for all; "
          "feature_names: each prompt's file name",
    size="389 prompts, 14.4 minutes, test part only",
    license=_LICENSE, source=_SOURCE + "/**.wav (389 files named in the registry)",
    citation=_CITATION,
    description="Every prompt of the package whose transcript (core-sounds-en.txt) contains "
    "no number (no digit word, no ordinal such as 'first', no numeral), no tones and not the "
    "letter 'o' (said 'oh', a zero in phone numbers): voicemail and conference menus, single "
    "letters, the NATO alphabet, punctuation names. Same speaker as asterisk-digits. Words "
    "like 'phone' and 'someone' still contain the sound of 'one': realistic near misses.",
    sources=(AsteriskSounds(files={}, package=PACKAGE, path=SOUNDS, names=PROMPT_FILES,
                            sha256=PROMPTS_SHA256),),
    reader=_read_prompts,
))
