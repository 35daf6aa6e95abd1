from functools import partial

from outcomes.forms import VasPainForm, WomacForm
from outcomes.services import record_womac
from trialsite.crf_views import edit_crf

vas_pain = partial(edit_crf, form_class=VasPainForm, template="outcomes/vas_pain.html")
womac = partial(edit_crf, form_class=WomacForm, template="outcomes/womac.html", save=record_womac)
