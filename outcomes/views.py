from functools import partial

from outcomes.forms import VasPainForm
from trialsite.crf_views import edit_crf

vas_pain = partial(edit_crf, form_class=VasPainForm, template="outcomes/vas_pain.html")
