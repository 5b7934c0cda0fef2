import { randomBytes } from 'node:crypto';

/** A new 64-hex-digit object ID, as Docker's container and exec IDs. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

/** The 12-digit short form Docker prints. Accepts `sha256:` prefixed IDs. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

const ADJECTIVES = ['admiring', 'agitated', 'amazing', 'angry', 'awesome', 'blissful', 'bold', 'brave', 'busy',
  'charming', 'clever', 'compassionate', 'confident', 'cool', 'crazy', 'dazzling', 'determined', 'eager',
  'ecstatic', 'elastic', 'elegant', 'epic', 'exciting', 'fervent', 'festive', 'focused', 'friendly', 'funny',
  'gallant', 'gifted', 'goofy', 'gracious', 'happy', 'hardcore', 'heuristic', 'hopeful', 'hungry', 'inspiring',
  'intelligent', 'interesting', 'jolly', 'jovial', 'keen', 'kind', 'laughing', 'loving', 'lucid', 'magical',
  'modest', 'musing', 'mystifying', 'naughty', 'nervous', 'nice', 'nifty', 'nostalgic', 'optimistic', 'peaceful',
  'pensive', 'practical', 'priceless', 'quirky', 'quizzical', 'relaxed', 'reverent', 'romantic', 'serene',
  'sharp', 'silly', 'sleepy', 'stoic', 'strange', 'sweet', 'tender', 'thirsty', 'trusting', 'upbeat', 'vibrant',
  'vigilant', 'wizardly', 'wonderful', 'youthful', 'zealous', 'zen'];
const SURNAMES = ['albattani', 'allen', 'archimedes', 'babbage', 'bardeen', 'bell', 'blackwell', 'bohr', 'booth',
  'cannon', 'carson', 'cerf', 'curie', 'darwin', 'dijkstra', 'einstein', 'euclid', 'euler', 'fermat', 'feynman',
  'galileo', 'gauss', 'goldberg', 'goodall', 'hamilton', 'hawking', 'hopper', 'hypatia', 'jackson', 'jennings',
  'johnson', 'kepler', 'knuth', 'lamarr', 'lamport', 'leakey', 'liskov', 'lovelace', 'mayer', 'mccarthy',
  'mendel', 'meitner', 'morse', 'napier', 'newton', 'nobel', 'noether', 'pare', 'pascal', 'pasteur', 'perlman',
  'pike', 'poincare', 'ptolemy', 'raman', 'ritchie', 'rosalind', 'sammet', 'shannon', 'shockley', 'sinoussi',
  'stallman', 'swanson', 'tesla', 'thompson', 'torvalds', 'turing', 'varahamihira', 'visvesvaraya', 'wiles',
  'williams', 'wilson', 'wing', 'wozniak', 'wright', 'yalow', 'yonath'];

/** A Docker-style random container name such as `focused_turing`. */
export function randomName(): string {
  const pick = (a: string[]) => a[Math.floor(Math.random() * a.length)];
  return `${pick(ADJECTIVES)}_${pick(SURNAMES)}`;
}
