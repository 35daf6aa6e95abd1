from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from enrollment import randomization
from trialsite import protocol


class Command(BaseCommand):
    help = (
        "Write a 1:1 randomization list in permuted blocks of random size, stratified by "
        "protocol.STRATIFICATION_FACTORS. Keep the seed and the file away from enrolling staff."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument(
            "--size",
            type=int,
            default=randomization.minimum_size(),
            help="Slots per stratum (at least %(default)s).",
        )
        parser.add_argument(
            "--block-sizes",
            default=",".join(map(str, protocol.RANDOMIZATION_BLOCK_SIZES)),
            help="Comma-separated block sizes (default %(default)s).",
        )
        parser.add_argument("--out", required=True, help="CSV file to write (must not exist).")

    def handle(self, *args, seed, size, block_sizes, out, **options):
        path = Path(out)
        if path.exists():
            raise CommandError(f"{path} exists; refusing to overwrite a randomization list.")
        try:
            sizes = tuple(int(b) for b in block_sizes.split(","))
            slots = randomization.make_list(seed=seed, size=size, block_sizes=sizes)
        except ValueError as error:
            raise CommandError(str(error)) from None
        path.write_text(randomization.to_csv(slots))
        for stratum, counts in randomization.balance(slots).items():
            self.stdout.write(
                f"{stratum or 'all participants'}: "
                + ", ".join(f"arm {arm} {counts[arm]}" for arm in randomization.ARMS)
            )
        self.stdout.write(self.style.SUCCESS(f"Wrote {len(slots)} slots to {path}."))
