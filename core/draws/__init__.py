"""Prize draws run: commitments when a campaign opens, the draw itself, winners and their reserves.

What is published and when (``docs/draws.md``): a draw's commitment (SHA-256 of its secret seed,
kept sealed with ``DRAW_SEED_KEY``) and its future drand round from the moment its campaign is
activated; at the entries' close, the frozen entry list (pseudonyms only) and its hash, before the
round exists; at the draw, the revealed seed, the beacon round, the winners. People flagged for fraud are left out;
someone who won a prize tier before in the campaign cannot win that tier again; linked
accounts are one person (their receipts moved to one person when they were joined).

Winners are told through the outbox without an address (the router picks the channel) and
have until their deadline to confirm in the bot (``core/scenarios/prize.py``); a refusal or
silence hands the prize to the next reserve of the tier, automatically.
"""

from core.draws.common import BEACON_MARGIN, FRAUD_REASONS, WINNER_ACK_WINDOW, BeaconSource, DrawRefused, Progress
from core.draws.exclusion import REASONS as EXCLUSION_REASONS
from core.draws.exclusion import exclude, excluded_from, reason_text
from core.draws.freezing import Frozen, freeze, freeze_list
from core.draws.keeper import DrawKeeper
from core.draws.prizes import confirm, drop_out, expire_overdue, mark_sent, open_win, promote
from core.draws.publishing import Check, check, entry_list, protocol_html, verify_command, winners_csv
from core.draws.reach import notice_trail, pass_on, tell_again
from core.draws.running import draw_now, reveal, run_draw
from core.draws.scheduling import NO_SEED_KEY, entries_close, name_beacon, schedule_draws
from core.draws.sealing import SeedSeal
