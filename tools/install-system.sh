#!/usr/bin/env bash
# Install the Debian packages the tests need, only those missing:
#   dataset-fashion-mnist  the Fashion-MNIST data (dlbook.data, chapters)
#   sword-text-web, sword-text-sparv  public-domain English and Spanish Bibles (translation chapter)
#   espeak-ng              the speech synthesiser the speech chapter trains its keyword spotter on
#   asterisk-core-sounds-en-wav  real recorded digits, the speech chapter's test set
#   fortunes               topic-labelled short texts (the language-at-work chapter's tickets)
#   chromium               the real browser the site tests drive (Playwright; never downloaded)
set -euo pipefail
need=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
[ -d /usr/share/sword/modules/texts/ztext/engWEB2015eb ] || need+=(sword-text-web)
[ -d /usr/share/sword/modules/texts/ztext/spaRV1909eb ] || need+=(sword-text-sparv)
[ -x /usr/bin/espeak-ng ] || need+=(espeak-ng)
[ -f /usr/share/asterisk/sounds/en_US_f_Allison/digits/0.wav ] || need+=(asterisk-core-sounds-en-wav)
[ -f /usr/share/games/fortunes/computers ] || need+=(fortunes)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the tests need these Debian packages: ${need[*]}; this system has no apt-get." >&2
  echo "       Install the equivalents by hand (Chromium at /usr/bin/chromium) or run in Debian." >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo)
else
  echo "error: the tests need these Debian packages: ${need[*]}" >&2
  echo "       install them once with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
"${sudo[@]}" apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${need[@]}" >/dev/null
